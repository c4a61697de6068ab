from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from .info import ApiInfoView, RootView
from .registry import resource_for
from .search import SearchView
from .subscriptions import SubscriptionViewSet
from .views import VIEWSETS

app_name = "api"

router = DefaultRouter()
router.APIRootView = RootView
for viewset in VIEWSETS:
    resource = resource_for(viewset.model)
    router.register(resource.collection, viewset, basename=resource.basename)
router.register("subscriptions", SubscriptionViewSet, basename="subscription")

urlpatterns = [
    path("api-info", ApiInfoView.as_view(), name="api-info"),
    path("search/", SearchView.as_view(), name="search"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("", include(router.urls)),
]
