"""Release 2 of the shop's JSON API: products have only a name now."""

import json

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .models import Product

RELEASE = 2


@csrf_exempt
def products(request: HttpRequest) -> JsonResponse:
    try:
        if request.method == "POST":
            data = json.loads(request.body or b"{}")
            product = Product.objects.create(name=data.get("name", "product"))
            return JsonResponse({"release": RELEASE, "product": product.as_json()}, status=201)
        latest = Product.objects.order_by("-pk")[:5]
        return JsonResponse(
            {
                "release": RELEASE,
                "count": Product.objects.count(),
                "latest": [product.as_json() for product in latest],
            }
        )
    except DatabaseError as error:
        # A 500 that says what the database said, so the demo can show it.
        return JsonResponse(
            {"release": RELEASE, "error": f"{type(error).__name__}: {error}"}, status=500
        )
