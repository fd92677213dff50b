"""Repositories: one module per aggregate, the only code that imports `service.db.tables`."""
