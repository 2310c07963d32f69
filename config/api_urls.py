"""Every REST endpoint, under /api/v1/."""

from django.urls import include, path

urlpatterns = [
    path("", include("volunteers.api_urls")),
    path("imports/", include("volunteers.imports_api")),
    path("", include("communities.api_urls")),
    path("", include("communities.notifications_api")),
    path("", include("communities.stats_api")),
    path("", include("volunteers.certificate_views")),
]
