"""Every REST endpoint, under /api/v1/."""

from django.urls import include, path

urlpatterns = [
    path("", include("volunteers.api_urls")),
    path("", include("communities.api.urls")),
]
