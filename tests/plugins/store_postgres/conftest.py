from ..store_shared.storeservices import postgres_storage  # noqa: F401 - a fixture
