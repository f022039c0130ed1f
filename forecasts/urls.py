from django.urls import path

from forecasts import views

app_name = "forecasts"
urlpatterns = [
    path("new/", views.forecast_new, name="new"),
    path("<id:pk>/", views.forecast_detail, name="detail"),
]
