"""REST endpoints for bulk imports (communities.services.imports): upload a file, download a template.

Thin: parse the request, call ``import_run`` or ``import_template``, shape the answer. Mounted at
``/api/v1/imports/`` by config/api_urls.py.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.services.imports import FORMATS, KINDS, import_allowed, import_run, import_template
from config.errors import ServiceError


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="An .xlsx or .csv file; headers in Chinese or English.")
    kind = serializers.ChoiceField(choices=KINDS, default="volunteers")
    dry_run = serializers.BooleanField(default=False, help_text="Check every row without writing anything.")
    expected_plan = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        help_text="The `plan` a dry run of this file answered: the import then writes exactly what that dry run "
        "reported, or nothing (`import_plan_changed`, 409).",
    )


class ImportErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="Spreadsheet line (the header is line 1; 0: the file itself).")
    column = serializers.CharField(help_text="The column as the file names it.")
    code = serializers.CharField(help_text="Stable machine-readable reason, e.g. `mobile_invalid`.")
    message = serializers.CharField()


class ImportChangeSerializer(serializers.Serializer):
    column = serializers.CharField(help_text="The column as the file names it.")
    before = serializers.CharField(help_text="As recorded (personal data masked); empty for a new volunteer.")
    after = serializers.CharField(help_text="As the row sets it (personal data masked).")


class ImportRowSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    action = serializers.ChoiceField(choices=["create", "update"])
    volunteer_number = serializers.CharField(help_text="Empty for a volunteer not yet registered.")
    name = serializers.CharField()
    changes = ImportChangeSerializer(many=True)


class ImportResultSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=KINDS)
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField(help_text="Data rows read (blank rows are skipped).")
    created = serializers.IntegerField(help_text="Rows written (on a dry run: rows that would be).")
    updated = serializers.IntegerField(help_text="Registered volunteers changed (on a dry run: that would be).")
    unchanged = serializers.IntegerField(help_text="Rows already present with the same data.")
    errors = ImportErrorSerializer(many=True)
    changes = ImportRowSerializer(many=True, help_text="Row by row, each new volunteer and each change.")
    plan = serializers.CharField(help_text="A digest of what the import writes; pass it back as `expected_plan`.")


class TemplateQuerySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=KINDS, default="volunteers")
    format = serializers.ChoiceField(choices=FORMATS, default="xlsx")


@extend_schema(tags=["imports"])
class ImportView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": ImportRequestSerializer},
        responses={
            200: ImportResultSerializer,
            201: ImportResultSerializer,
            400: OpenApiResponse(
                description="`import_invalid`: nothing was written; `details.errors` lists every bad row "
                "as {line, column, code, message}."
            ),
            401: OpenApiResponse(description="Not authenticated."),
            403: OpenApiResponse(description="`permission_denied`: the caller may not import this kind."),
            409: OpenApiResponse(
                description="`import_plan_changed`: the records changed since the dry run whose `plan` was "
                "given; nothing was written; `details.changes` lists what the import would now do."
            ),
            413: OpenApiResponse(
                description="`file_too_large`: the request body is larger than `UPLOAD_MAX_BYTES`; refused "
                "before it is read. A file over `IMPORT_MAX_BYTES` in a smaller body is an `import_invalid` "
                "error on line 0 with the code `file_too_large`, as are `too_many_rows`, `too_many_columns` "
                "and `too_many_cells`."
            ),
        },
        summary="Import volunteers, communities or posts (all or nothing)",
    )
    def post(self, request):
        # Who may import at all is settled before the upload is even read; which kind is checked
        # again by import_run once the kind is known.
        kinds = ("volunteers", "communities", "posts")
        if not any(import_allowed(actor=request.user, kind=kind) for kind in kinds):
            raise ServiceError("permission_denied")
        serializer = ImportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        result = import_run(
            kind=serializer.validated_data["kind"],
            file_name=upload.name,
            content=upload,
            actor=request.user,
            dry_run=serializer.validated_data["dry_run"],
            expected_plan=serializer.validated_data["expected_plan"],
        )
        if not result.ok:
            raise ServiceError(
                "import_invalid",
                {"kind": result.kind, "dry_run": result.dry_run, "rows": result.rows, "errors": result.errors},
            )
        code = status.HTTP_200_OK if result.dry_run else status.HTTP_201_CREATED
        return Response(result.as_dict(), status=code)


class JSONOnlyNegotiation(BaseContentNegotiation):
    """``?format=`` names the file to download here, not a DRF renderer; errors are always JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@extend_schema(tags=["imports"])
class ImportTemplateView(APIView):
    content_negotiation_class = JSONOnlyNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=list(KINDS), default="volunteers"),
            OpenApiParameter("format", str, enum=list(FORMATS), default="xlsx"),
        ],
        responses={
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY,
            (200, "text/csv"): OpenApiTypes.STR,
            400: OpenApiResponse(description="`invalid`: unknown kind or format."),
            401: OpenApiResponse(description="Not authenticated."),
        },
        summary="An empty import file in the caller's language, with one example row",
    )
    def get(self, request):
        query = TemplateQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        content, content_type, file_name = import_template(
            kind=query.validated_data["kind"], file_format=query.validated_data["format"]
        )
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{file_name}"'
        return response
