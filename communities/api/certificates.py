"""Certificates and service records: downloads for volunteers, issue for staff, public verification.

API (``urlpatterns``, under /api/v1/):
  GET  me/certificate.pdf?from=&to=            the caller's own certificate for the period, once issued (a read)
  POST me/certificate.pdf?from=&to=            issue it: the same certificate again while nothing changed
  GET  me/service-record.xlsx                  the caller's five-part service record
  GET  certificates/                           certificates of volunteers in the staff's subtree
  POST certificates/                           issue one (staff, volunteer within their subtree)
  GET  certificates/<number>.pdf               the PDF (staff in scope, or the holder)
  GET  volunteers/<id>/service-record.xlsx     a volunteer's service record (staff in scope)
Pages (``page_urlpatterns``):
  GET  verify/ and verify/<number>/            public, no log-in: genuine or not, masked name, hours, issuer
"""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.render import exports
from communities.services import certificates
from config.errors import ServiceError
from config.params import as_date
from volunteers.models import Certificate, Volunteer
from volunteers.selectors import is_committee_staff, organization_subtree, user_volunteer

PDF_TYPE = "application/pdf"


def verify_url(request, number: str) -> str:
    return request.build_absolute_uri(reverse("certificate-verify", args=[number]))


def pdf_response(request, certificate: Certificate) -> HttpResponse:
    content = certificates.certificate_pdf(certificate, verify_url=verify_url(request, certificate.number))
    return exports.file_response(content, filename=f"certificate-{certificate.number}.pdf", content_type=PDF_TYPE)


def _date_param(data, name: str):
    raw = data.get(name)
    if raw in (None, ""):
        return None
    value = as_date(raw) if isinstance(raw, str) else raw
    if value is None:
        raise ServiceError("invalid", {name: ["Use the format YYYY-MM-DD."]})
    return value


def require_staff(user) -> None:
    if not is_committee_staff(user):
        raise ServiceError("permission_denied")


def staff_volunteer(user, volunteer_id) -> Volunteer:
    """A volunteer in the staff user's subtree, else ``not_found``."""
    require_staff(user)
    volunteers = Volunteer.objects.select_related("organization", "user")
    if not user.is_superuser:
        volunteers = volunteers.filter(organization__in=organization_subtree(user))
    volunteer = volunteers.filter(pk=volunteer_id).first()
    if volunteer is None:
        raise ServiceError("not_found")
    return volunteer


PERIOD_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day; defaults to the first day of service."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day; defaults to today."),
]
FILE_ERRORS = {
    400: OpenApiResponse(description="`invalid`: a malformed or impossible period."),
    403: OpenApiResponse(description="`not_a_volunteer` or `permission_denied`."),
    404: OpenApiResponse(description="`not_found`: not yours to see."),
}


@extend_schema(tags=["certificates"])
class MyCertificateView(APIView):
    """The caller's own service record certificate as PDF.

    Issuing writes a certificate row, so it is a POST, idempotent per period: the same certificate
    (200) while nothing it says has changed, a new one (201) otherwise. A GET only reads: the
    certificate already issued for the period, or ``not_found``.
    """

    @extend_schema(
        parameters=PERIOD_PARAMETERS,
        responses={(200, PDF_TYPE): OpenApiTypes.BINARY, **FILE_ERRORS},
        summary="The caller's certificate for the period, once issued",
    )
    def get(self, request):
        certificate = certificates.certificate_of_self(
            volunteer=self._volunteer(request),
            period_start=_date_param(request.query_params, "from"),
            period_end=_date_param(request.query_params, "to"),
        )
        return pdf_response(request, certificate)

    @extend_schema(
        parameters=PERIOD_PARAMETERS,
        request=None,
        responses={
            (200, PDF_TYPE): OpenApiTypes.BINARY,
            (201, PDF_TYPE): OpenApiTypes.BINARY,
            **FILE_ERRORS,
        },
        summary="Issue the caller's certificate for the period (idempotent)",
    )
    def post(self, request):
        certificate, created = certificates.certificate_issue_for_self(
            volunteer=self._volunteer(request),
            period_start=_date_param(request.query_params, "from"),
            period_end=_date_param(request.query_params, "to"),
        )
        response = pdf_response(request, certificate)
        response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return response

    @staticmethod
    def _volunteer(request) -> Volunteer:
        volunteer = user_volunteer(request.user)
        if volunteer is None:
            raise ServiceError("not_a_volunteer")
        return volunteer


@extend_schema(tags=["certificates"])
class MyServiceRecordView(APIView):
    """The caller's service record in the five parts of the national record, as XLSX."""

    @extend_schema(responses={(200, exports.XLSX_TYPE): OpenApiTypes.BINARY, **FILE_ERRORS})
    def get(self, request):
        volunteer = user_volunteer(request.user)
        if volunteer is None:
            raise ServiceError("not_a_volunteer")
        record = certificates.volunteer_service_record(volunteer=volunteer)
        return exports.service_record_response(record, volunteer_number=volunteer.volunteer_number)


@extend_schema(tags=["certificates"])
class VolunteerServiceRecordView(APIView):
    """A volunteer's service record, for staff of an organization whose subtree holds them."""

    @extend_schema(responses={(200, exports.XLSX_TYPE): OpenApiTypes.BINARY, **FILE_ERRORS})
    def get(self, request, pk: int):
        volunteer = staff_volunteer(request.user, pk)
        record = certificates.volunteer_service_record(volunteer=volunteer)
        return exports.service_record_response(record, volunteer_number=volunteer.volunteer_number)


class CertificateIssueSerializer(serializers.Serializer):
    volunteer = serializers.IntegerField(min_value=1)

    def get_fields(self):
        # "from" is a Python keyword, so these two are added by name.
        fields = super().get_fields()
        fields["from"] = serializers.DateField(help_text="First day of the certified period.")
        fields["to"] = serializers.DateField(help_text="Last day of the certified period (not in the future).")
        return fields


class CertificateVolunteerSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    volunteer_number = serializers.CharField()
    name = serializers.CharField(source="real_name")


class CertificateIssuerSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="display_name")


class CertificateSerializer(serializers.ModelSerializer):
    volunteer = CertificateVolunteerSerializer(read_only=True)
    issuer = CertificateIssuerSerializer(read_only=True)
    hours = serializers.SerializerMethodField()
    issued_by = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()
    verify_url = serializers.SerializerMethodField()

    class Meta:
        model = Certificate
        fields = [
            "number",
            "volunteer",
            "issuer",
            "period_start",
            "period_end",
            "total_minutes",
            "hours",
            "issued_at",
            "issued_by",
            "pdf_url",
            "verify_url",
        ]

    def get_hours(self, certificate) -> float:
        return round(certificate.total_minutes / 60, 1)

    def get_issued_by(self, certificate) -> str:
        user = certificate.issued_by
        return (user.get_full_name() or user.get_username()) if user else ""

    def get_pdf_url(self, certificate) -> str:
        return self.context["request"].build_absolute_uri(reverse("certificate-pdf", args=[certificate.number]))

    def get_verify_url(self, certificate) -> str:
        return verify_url(self.context["request"], certificate.number)


@extend_schema(tags=["certificates"])
class CertificateViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Certificates issued to volunteers in the staff's subtree, newest first; issue new ones."""

    serializer_class = CertificateSerializer
    queryset = Certificate.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        require_staff(self.request.user)
        return certificates.certificates_visible_to(self.request.user).order_by("-issued_at", "-pk")

    @extend_schema(
        request=CertificateIssueSerializer,
        responses={201: CertificateSerializer, **FILE_ERRORS},
        summary="Issue a certificate for a volunteer in your subtree",
    )
    def create(self, request):
        serializer = CertificateIssueSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        volunteer = staff_volunteer(request.user, data["volunteer"])
        certificate = certificates.certificate_issue(
            volunteer=volunteer,
            issuer_org=certificates.certificate_issuer_for(user=request.user, volunteer=volunteer),
            actor=request.user,
            period_start=data["from"],
            period_end=data["to"],
        )
        certificate = certificates.certificates_visible_to(request.user).get(pk=certificate.pk)
        return Response(self.get_serializer(certificate).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["certificates"])
class CertificatePdfView(APIView):
    """An issued certificate's PDF: for its holder, and for staff whose subtree holds the volunteer."""

    @extend_schema(responses={(200, PDF_TYPE): OpenApiTypes.BINARY, **FILE_ERRORS})
    def get(self, request, number: str):
        user = request.user
        found = Certificate.objects.select_related("volunteer", "issuer").filter(
            number=certificates.normalize_number(number)
        )
        certificate = found.filter(volunteer__user_id=user.pk).first()
        if certificate is None and is_committee_staff(user):
            certificate = certificates.certificates_visible_to(user).filter(pk__in=found.values("pk")).first()
        if certificate is None:
            raise ServiceError("not_found")
        return pdf_response(request, certificate)
