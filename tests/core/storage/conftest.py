from ...plugins.store_shared.storeservices import redis_storage  # noqa: F401 - a fixture
