from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api, coordinator_api, records_api

router = SimpleRouter()
router.register("communities", api.CommunityViewSet, basename="community")
router.register("shifts", api.ShiftViewSet, basename="shift")
router.register("assignments", api.AssignmentViewSet, basename="assignment")
router.register("attendance", coordinator_api.AttendanceViewSet, basename="attendance")
router.register("audit", coordinator_api.AuditViewSet, basename="audit")
router.register("dispatches", coordinator_api.DispatchViewSet, basename="dispatch")
router.register("volunteers", records_api.VolunteerViewSet, basename="volunteer")
router.register("change-requests", records_api.ChangeRequestViewSet, basename="change-request")

urlpatterns = [
    path("me/change-requests/", records_api.MyChangeRequestsView.as_view(), name="me-change-requests"),
    *router.urls,
]
