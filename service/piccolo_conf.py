"""Piccolo's engine and app registry, for migrations (`saveflow migrate` points PICCOLO_CONF here) and its CLI.

The running app binds its own engine from `Settings` (service/db/engine.py); both read the same
`DATABASE_URL` / `SQLITE_PATH` through `DatabaseSettings`.
"""

import os

from piccolo.conf.apps import AppRegistry

from service.db.engine import create_engine
from service.settings import DatabaseSettings

DB = create_engine(DatabaseSettings.from_env(os.environ))

APP_REGISTRY = AppRegistry(apps=["service.db.piccolo_app"])
