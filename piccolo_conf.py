"""The `piccolo` CLI's configuration in the repository: the service's own, service/piccolo_conf.py."""

from service.piccolo_conf import APP_REGISTRY, DB

__all__ = ("APP_REGISTRY", "DB")
