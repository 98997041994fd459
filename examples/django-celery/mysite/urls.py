from django.urls import path

from jobs import views

urlpatterns = [
    path("", views.index),
    path("health", views.health),
    path("enqueue/<str:name>", views.enqueue),
    path("result/<str:name>", views.result),
    path("ticks", views.ticks),
]
