from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from cases.admin.overview import overview_view


def start(request):
    """``/``: people go to the admin (the API lives under /api/v1/, its documentation at
    /api/v1/docs/)."""
    return redirect("admin:index")


def favicon(request):
    """``/favicon.ico``, which browsers ask for on every page: the register's icon."""
    return redirect(static("cases/favicon.svg"), permanent=True)


urlpatterns = [
    path("", start, name="start"),
    path("favicon.ico", favicon),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/oversikt/", admin.site.admin_view(overview_view), name="case_overview"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("cases.api.urls")),
]

# Every error is a problem document (cases.api.problems), a page for a person in the admin.
handler400 = "cases.api.problems.bad_request"
handler403 = "cases.api.problems.permission_denied"
handler404 = "cases.api.problems.not_found"
handler500 = "cases.api.problems.server_error"
