from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("communities", api.CommunityViewSet, basename="community")
router.register("shifts", api.ShiftViewSet, basename="shift")
router.register("assignments", api.AssignmentViewSet, basename="assignment")

urlpatterns = router.urls
