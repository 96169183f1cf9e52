"""PostgreSQL warehouse destination."""

from integrations.warehouse.client import WarehouseClient

__all__ = ["WarehouseClient"]
