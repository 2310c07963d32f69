from rest_framework.routers import SimpleRouter

from . import api, coordinator_api

router = SimpleRouter()
router.register("communities", api.CommunityViewSet, basename="community")
router.register("shifts", api.ShiftViewSet, basename="shift")
router.register("assignments", api.AssignmentViewSet, basename="assignment")
router.register("attendance", coordinator_api.AttendanceViewSet, basename="attendance")
router.register("audit", coordinator_api.AuditViewSet, basename="audit")
router.register("dispatches", coordinator_api.DispatchViewSet, basename="dispatch")

urlpatterns = router.urls
