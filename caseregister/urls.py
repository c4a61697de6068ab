from django.contrib import admin
from django.urls import include, path

from cases.admin.overview import overview_view

urlpatterns = [
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
