import pytest
from django.apps import apps

from cases.services.fixtures import load_register


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database holds the seed register, loaded once, as after `make run`."""
    with django_db_blocker.unblock():
        load_register()


def snapshot() -> dict:
    """Every row of every register table, for comparing database states."""
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for model in apps.get_app_config("cases").get_models()
    }


@pytest.fixture(scope="session", autouse=True)
def plain_http():
    """Tests talk plain HTTP to the app, also to the live server (whose middleware is built
    once, when it starts); production redirects to HTTPS (see test_deployment)."""
    from django.conf import settings

    settings.SECURE_SSL_REDIRECT = False
