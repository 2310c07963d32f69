"""URLs for the stack-floor rounds of ``bench/signup_http.py``.

The project's URLs, plus two endpoints that do next to nothing, served by the same gunicorn with
the same settings and loaded by the same clients as the sign-ups: what they reach is the most any
endpoint of this stack can reach on the machine, to set a sign-up's rate against.
"""

from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response
from rest_framework.views import APIView


@csrf_exempt
def plain(request, pk: int):
    """Django and the project's middleware; no database."""
    return JsonResponse({"id": pk}, status=201)


class Authenticated(APIView):
    """DRF with the project's token authentication (one query for the token and its user)."""

    def post(self, request, pk: int):
        return Response({"id": pk, "user": request.user.pk}, status=201)


urlpatterns = [
    path("bench/plain/<int:pk>/", plain),
    path("bench/token/<int:pk>/", Authenticated.as_view()),
    path("", include("config.urls")),
]
