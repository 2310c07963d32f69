"""Every REST endpoint of participation, under /api/v1/: the one URL table of communities' API."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from communities.api import (
    certificates,
    coordinator,
    corrections,
    imports,
    me,
    mobilisation,
    notifications,
    records,
    recruitment,
    shifts,
    stats,
)

router = SimpleRouter()
router.register("communities", shifts.CommunityViewSet, basename="community")
router.register("shifts", shifts.ShiftViewSet, basename="shift")
router.register("assignments", shifts.AssignmentViewSet, basename="assignment")
router.register("attendance", coordinator.AttendanceViewSet, basename="attendance")
router.register("audit", coordinator.AuditViewSet, basename="audit")
router.register("dispatches", coordinator.DispatchViewSet, basename="dispatch")
router.register("notifications/failed", notifications.FailedNotificationViewSet, basename="notification-failed")
router.register("notifications", notifications.NotificationViewSet, basename="notification")
router.register("community-requests", mobilisation.CommunityRequestViewSet, basename="community-request")
router.register("broadcasts", mobilisation.BroadcastViewSet, basename="broadcast")
router.register("calls", recruitment.CallViewSet, basename="call")
router.register("applications", recruitment.ApplicationViewSet, basename="application")

router.register("volunteers", records.VolunteerViewSet, basename="volunteer")
router.register("change-requests", records.ChangeRequestViewSet, basename="change-request")
router.register("record-corrections", corrections.RecordCorrectionViewSet, basename="record-correction")

urlpatterns = [
    *router.urls,
    path("sms/receipts/aliyun/", notifications.AliyunReceiptView.as_view(), name="sms-receipts-aliyun"),
    path("sms/receipts/tencent/", notifications.TencentReceiptView.as_view(), name="sms-receipts-tencent"),
    path("stats/overview/", stats.OverviewView.as_view(), name="stats-overview"),
    path("stats/organizations/", stats.OrganizationsView.as_view(), name="stats-organizations"),
    path("stats/communities/", stats.CommunitiesView.as_view(), name="stats-communities"),
    path("stats/post-types/", stats.PostTypesView.as_view(), name="stats-post-types"),
    path("stats/daily/", stats.DailyView.as_view(), name="stats-daily"),
    path("stats/leaderboard/", stats.LeaderboardView.as_view(), name="stats-leaderboard"),
    path("stats/stars/", stats.StarsView.as_view(), name="stats-stars"),
    path("stats/people/", stats.PeopleView.as_view(), name="stats-people"),
    path("live/", mobilisation.LiveBoardView.as_view(), name="live-board-api"),
    path("reports/daily/", stats.DailyReportViewSet.as_view({"get": "list"}), name="daily-report-list"),
    path("volunteers/<int:pk>/recall/", coordinator.VolunteerRecallView.as_view(), name="volunteer-recall"),
    path("imports/", imports.ImportView.as_view(), name="imports"),
    path("imports/template/", imports.ImportTemplateView.as_view(), name="imports-template"),
    path("me/certificate.pdf", certificates.MyCertificateView.as_view(), name="certificate-download"),
    path("me/service-record.xlsx", certificates.MyServiceRecordView.as_view(), name="me-service-record"),
    path(
        "volunteers/<int:pk>/service-record.xlsx",
        certificates.VolunteerServiceRecordView.as_view(),
        name="volunteer-service-record",
    ),
    path(
        "certificates/",
        certificates.CertificateViewSet.as_view({"get": "list", "post": "create"}),
        name="certificate-list",
    ),
    path("certificates/<str:number>.pdf", certificates.CertificatePdfView.as_view(), name="certificate-pdf"),
    path("me/", me.MeView.as_view(), name="me"),
    path("me/calendar.ics", me.CalendarView.as_view(), name="me-calendar"),
    path("me/calendar-link/", me.CalendarLinkView.as_view(), name="me-calendar-link"),
    path("me/export/", me.DataExportView.as_view(), name="me-export"),
    path("me/delete/", me.AccountDeleteView.as_view(), name="me-delete"),
    path("me/mobile/", me.MobileChangeView.as_view(), name="me-mobile"),
    path("me/record-corrections/", corrections.MyRecordCorrectionsView.as_view(), name="me-record-corrections"),
    path("public/calls/<slug:slug>/", recruitment.PublicCallView.as_view(), name="public-call"),
    path("public/calls/<slug:slug>/code/", recruitment.PublicCallCodeView.as_view(), name="public-call-code"),
    path("public/calls/<slug:slug>/apply/", recruitment.PublicCallApplyView.as_view(), name="public-call-apply"),
    path("me/change-requests/", records.MyChangeRequestsView.as_view(), name="me-change-requests"),
]
