from django.urls import path

from marketdata import views

app_name = "marketdata"
urlpatterns = [
    path("", views.data_page, name="data"),
    path("delete/", views.candles_delete, name="delete"),
    path("imports/<id:pk>/", views.import_detail, name="import-detail"),
    path("imports/<id:pk>/retry/", views.import_retry, name="import-retry"),
]
