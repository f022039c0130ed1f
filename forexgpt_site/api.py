"""API pieces every job-run endpoint shares."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from forexgpt_site.jobs import job_cancel, job_requeue


class CancelActionMixin:
    """`POST .../<id>/cancel/` for a job-run viewset (the run's owner or staff)."""

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        try:
            run = job_cancel(run=self.get_object(), user=request.user)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(self.get_serializer(run).data)


class ResumeActionMixin(CancelActionMixin):
    """Adds `POST .../<id>/resume/`: a failed or cancelled run continues from what it stored."""

    resume_message = "resuming"

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        try:
            run = job_requeue(run=self.get_object(), user=request.user, message=self.resume_message)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)
