from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from forexgpt_site.api import JobCreateMixin, ResumeActionMixin, job_create_schema
from training import services
from training.models import TrainingRun
from training.serializers import TrainingCreateSerializer, TrainingRunSerializer


class HardwareView(APIView):
    """GPUs, CUDA/cuDNN/NCCL, NVLink, optional NVIDIA libraries, CPU, RAM, and the optimizations that follow."""

    @extend_schema(responses={200: dict, 202: dict})
    def get(self, request):
        """The stored report with `detected_at` and `host`; none yet: 202, and the `gpu` worker is asked."""
        from training.hardware import hardware_detect_enqueue, hardware_report_latest

        latest = hardware_report_latest()
        if latest is None:
            hardware_detect_enqueue()
            return Response(
                {"detail": "no hardware report yet: the gpu worker is detecting; ask again in a minute"},
                status=status.HTTP_202_ACCEPTED,
            )
        return Response({**latest.report, "host": latest.host, "detected_at": latest.detected_at})


@extend_schema_view(create=job_create_schema(TrainingCreateSerializer, TrainingRunSerializer))
class TrainingRunViewSet(
    JobCreateMixin, ResumeActionMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Training runs: create -> 202 (queued on `gpu`); poll the loss history; cancel; resume from the last checkpoint."""

    serializer_class = TrainingRunSerializer
    create_serializer_class = TrainingCreateSerializer

    def start_job(self, **arguments):
        return services.training_run_start(**arguments)

    queryset = TrainingRun.objects.select_related("owner", "artifact_version__registered_model").order_by("-created_at")
    filterset_fields = ["status", "symbol", "timeframe"]

    @extend_schema(
        parameters=[OpenApiParameter("after", int, description="only epochs after this one")], responses={200: dict}
    )
    @action(detail=True)
    def history(self, request, pk=None):
        """Loss points per epoch; `?after=N` returns only newer ones (what the page polls)."""
        run = self.get_object()
        after = request.query_params.get("after")
        points = run.history or []
        if after not in (None, "") and str(after).lstrip("-").isdecimal():
            points = [p for p in points if p["epoch"] > int(after)]
        return Response(
            {
                "status": run.status,
                "finished": run.is_finished,
                "progress": run.progress,
                "phase": run.phase,
                "message": run.message,
                "epoch": run.epoch,
                "step": run.step,
                "train_loss": run.train_loss,
                "samples_per_s": run.samples_per_s,
                "eta_s": run.eta_s,
                "gpu_memory_gb": run.gpu_memory_gb,
                "decisions": run.decisions,
                "points": points,
            }
        )
