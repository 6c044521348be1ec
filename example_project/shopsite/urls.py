from django.urls import path
from shop import views

urlpatterns = [
    path("products/", views.products, name="products"),
]
