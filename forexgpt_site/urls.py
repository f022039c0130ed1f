from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from backtesting_app import api as backtesting_api
from conformal import api as conformal_api
from forecasts import api as forecasts_api
from forexgpt_site import auth, views
from marketdata import api as marketdata_api
from registry import api as registry_api
from training import api as training_api
from training.views import hardware_page


class RowId:
    """A row id in a page's URL: at most 18 digits, so a 64-bit database integer always holds it (a
    longer number is a 404, not an overflow in the database driver)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


register_converter(RowId, "id")  # before the apps' urls are included below


class Router(DefaultRouter):
    """Ids as in pages (RowId) unless a viewset names its own lookup; no `.json` format-suffix routes
    (custom actions and create endpoints do not take a format argument)."""

    include_format_suffixes = False

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        regex = super().get_lookup_regex(viewset, lookup_prefix)
        if getattr(viewset, "lookup_field", "pk") == "pk" and not hasattr(viewset, "lookup_value_regex"):
            regex = regex.replace("[^/.]+", RowId.regex)  # DRF's default value pattern
        return regex


router = Router()
router.register("candle-imports", marketdata_api.CandleImportViewSet, basename="candle-import")
router.register("backtests", backtesting_api.BacktestRunViewSet, basename="backtest")
router.register("optimizations", backtesting_api.OptimizationRunViewSet, basename="optimization")
router.register("calibrations", conformal_api.CalibrationRunViewSet, basename="calibration")
router.register("training-runs", training_api.TrainingRunViewSet, basename="training-run")
router.register("forecasts", forecasts_api.ForecastSetViewSet, basename="forecast-set")
router.register("registry/models", registry_api.RegisteredModelViewSet, basename="registered-model")
router.register("registry/versions", registry_api.ModelVersionViewSet, basename="model-version")

api_patterns = [
    path("token/", auth.TokenLoginView.as_view(), name="api-token"),
    path("token/logout/", auth.TokenLogoutView.as_view(), name="api-token-logout"),
    path("token/logout-all/", auth.TokenLogoutAllView.as_view(), name="api-token-logout-all"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("series/", marketdata_api.SeriesListView.as_view(), name="api-series"),
    path("candles/", marketdata_api.CandleListView.as_view(), name="api-candles"),
    path("candles/import/", marketdata_api.CandleImportCreateView.as_view(), name="api-candles-import"),
    path("hardware/", training_api.HardwareView.as_view(), name="api-hardware"),
    path("patterns/", backtesting_api.PatternScanView.as_view(), name="api-patterns"),
    path("registry/import/", registry_api.BundleImportView.as_view(), name="api-registry-import"),
    path("", include(router.urls)),
]

handler400 = "forexgpt_site.views.bad_request"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("data/", include("marketdata.urls")),
    path("registry/", include("registry.urls")),
    path("conformal/", include("conformal.urls")),
    path("backtests/", include("backtesting_app.urls.backtests")),
    path("optimizations/", include("backtesting_app.urls.optimizations")),
    path("training/", include("training.urls")),
    path("forecasts/", include("forecasts.urls")),
    path("hardware/", hardware_page, name="hardware"),
    path("jobs/<str:kind>/<int:pk>/<str:action>/", views.job_action, name="job-action"),
    path("api/", include(api_patterns)),
]
