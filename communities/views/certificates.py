"""The public page that tells whether a certificate is genuine (``/verify/<number>/``)."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from communities.services import certificates


@never_cache
def verify(request, number: str | None = None):
    if number is None:
        typed = certificates.normalize_number(request.GET.get("number", ""))
        if not typed:
            return render(request, "certificates/verify.html", {"result": None})
        if certificates.NUMBER_RE.match(typed):
            # A well-formed number gets its own address, the one printed on the certificate.
            return redirect("certificate-verify", number=typed)
        number = typed  # anything else (``a/b`` is no path segment) is answered here: not genuine
    result = certificates.certificate_verify(number)
    certificate = result.certificate
    context = {
        "result": result.status,
        "number": certificates.normalize_number(number)[:40],
        "holder": certificate.holder_name_masked if certificate else "",
        "hours": round(certificate.total_minutes / 60, 1) if certificate else None,
        "issuer": certificate.issuer.display_name if certificate else "",
        "period_start": certificate.period_start if certificate else None,
        "period_end": certificate.period_end if certificate else None,
    }
    status_code = 200 if result.status == certificates.GENUINE else 404
    return render(request, "certificates/verify.html", context, status=status_code)
