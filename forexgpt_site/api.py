"""API pieces every endpoint shares: the exception handler, and the create / cancel / resume actions of job runs."""

from dataclasses import fields
from traceback import walk_tb

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from forexgpt_site.errors import DomainError
from forexgpt_site.jobs import job_cancel, job_requeue, request_of
from forexgpt_site.parsing import parse_utc_range
from forexgpt_site.uploads import UploadTooLarge


def raised_by_json_decoder(exc: BaseException) -> bool:
    """Whether `exc` came out of the json module (a request body nested deeper than Python's stack)."""
    return any(frame.f_globals.get("__name__", "").startswith("json") for frame, _ in walk_tb(exc.__traceback__))


def exception_handler(exc, context):
    """DRF's handler, plus the refusals: a DomainError (services, selectors, request objects, the shared
    parsing; RegistryError and refused uploads included) is a 400 `{"detail": message}`, and so is a
    body too deeply nested for the JSON decoder (RecursionError); any other ValueError is a bug and
    stays a 500. Django's PermissionDenied is a 403 `{"detail": message}` wherever it comes from (DRF's
    own handling)."""
    if isinstance(exc, DomainError):
        exc = ValidationError({"detail": str(exc)})
    elif isinstance(exc, UploadTooLarge):
        exc = ValidationError({"detail": str(exc)})
    elif isinstance(exc, RecursionError) and raised_by_json_decoder(exc):
        exc = ParseError("the JSON body is nested too deeply")
    return drf_exception_handler(exc, context)


class RequestField(serializers.ReadOnlyField):
    """A value of the run's request: a field as stored, or a property of the request object (`costs`)."""

    def get_attribute(self, run):
        if self.field_name in run.request:
            return run.request[self.field_name]
        return getattr(request_of(run), self.field_name) if run.request else None


class JobRunSerializer(serializers.ModelSerializer):
    """A job run as the API shows it: `Meta.fields` may name any field or property of the run's
    request; one that is not a column is read from the stored request (`RequestField`)."""

    def build_unknown_field(self, field_name, model_class):
        known = {f.name for f in fields(model_class.request_class)} if model_class.request_class else set()
        if field_name in known or isinstance(getattr(model_class.request_class, field_name, None), property):
            return RequestField, {}
        return super().build_unknown_field(field_name, model_class)


class UtcRangeQuerySerializer(serializers.Serializer):
    """`start` and `end` of a query read as every page, form and command reads them (`parse_utc_range`):
    ISO 8601, UTC, an `end` given as a date alone includes that whole day."""

    start = serializers.CharField(required=False, help_text="first bar (UTC, ISO 8601)")
    end = serializers.CharField(required=False, help_text="last bar (UTC, ISO 8601; a date alone: the whole day)")

    def validate(self, attrs):
        start, end = parse_utc_range(attrs)
        return {**attrs, "start": start, "end": end}


class JobRequestSerializer(serializers.Serializer):
    """The API face of a job's request object `R`: subclasses declare its fields (defaults and choices
    from `R`); `validate` gives the service's arguments, {"request": R.from_dict(the rest)} plus
    {"upload": the file} when `upload_field` names one that travels beside the request. A ValueError
    from the request names the field; the exception handler makes it a 400 {"detail": message}."""

    R = None
    upload_field = None
    # what a browser's form (DRF's browsable API) adds to a body beside the fields
    FORM_KEYS = frozenset({"csrfmiddlewaretoken", "_content_type", "_content"})

    def to_internal_value(self, data):
        """A body's name that is no field of this request is refused, naming it, before any value is
        read: a typo (`"epoch": 1`) would otherwise be dropped and the job run on the default."""
        if hasattr(data, "keys"):
            unknown = set(data.keys()) - set(self.fields) - self.FORM_KEYS
            if unknown:
                raise DomainError(
                    f"unknown field(s) {', '.join(sorted(map(str, unknown)))}; known: {', '.join(sorted(self.fields))}"
                )
        return super().to_internal_value(data)

    def validate(self, attrs):
        attrs = dict(attrs)
        upload = {"upload": attrs.pop(self.upload_field, None)} if self.upload_field else {}
        return {"request": self.R.from_dict(attrs), **upload}


class JobCreateMixin:
    """`POST` starts a job: `create_serializer_class` checks the body into the service's arguments
    (`request`, and `upload` where a file travels beside it), `start_job(user=..., **those)` stores and
    queues the run; the answer is 202 with the run as `serializer_class` shows it. Subclasses document
    the body with `extend_schema_view(create=job_create_schema(...))`."""

    create_serializer_class = None

    def start_job(self, *, user, **arguments):
        """Call the job's start service; a method, so the service is looked up when a request comes."""
        raise NotImplementedError

    def create(self, request):
        body = self.create_serializer_class(data=request.data)
        body.is_valid(raise_exception=True)
        run = self.start_job(user=request.user, **body.validated_data)
        run.refresh_from_db()
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)


def job_create_schema(create_serializer, run_serializer):
    """The OpenAPI description of a `JobCreateMixin.create`: this body, 202 with this run."""
    return extend_schema(request=create_serializer, responses={202: run_serializer})


class CancelActionMixin:
    """`POST .../<id>/cancel/` for a job-run viewset (the run's owner or staff)."""

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return Response(self.get_serializer(job_cancel(run=self.get_object(), user=request.user)).data)


class ResumeActionMixin(CancelActionMixin):
    """Adds `POST .../<id>/resume/`: a failed or cancelled run continues from what it stored (with its
    model's `resume_message` on the run)."""

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        run = self.get_object()
        run = job_requeue(run=run, user=request.user, message=type(run).resume_message)
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)
