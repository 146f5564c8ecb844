"""Properties of the job model, the id scheme and the URL guard's pure parts, over generated
inputs (the example-based tests of the same code are in test_shared_contract.py and
test_worker_logic.py). Nothing here resolves a name or opens a connection."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import string
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest
from docflow_shared.errors import InvalidJob
from docflow_shared.ids import is_valid_job_id, job_id_of, require_valid_job_id, workflow_id
from docflow_shared.models import MAX_DEADLINE_SECONDS, DocumentType, JobRequest
from docflow_shared.url_guard import refused, shown_url
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

pytestmark = pytest.mark.unit

JOB_ID_CHARACTERS = string.ascii_letters + string.digits + "._:-"
# Characters next to the allowed ones that a careless pattern would let through: separators,
# escapes, a trailing newline, non-ASCII letters and digits (Arabic-Indic three, fullwidth A).
NEAR_MISSES = " /%\n\t\u00e9\u0663\uff21"
WHITESPACE = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
FIELD_NAMES = {
    name for field, info in JobRequest.model_fields.items() for name in (field, info.alias)
}
URL_FIELDS_SCHEMES = {"documentUrl": {"http", "https", "s3"}, "callbackUrl": {"http", "https"}}

job_ids = st.text(alphabet=JOB_ID_CHARACTERS, min_size=1, max_size=128)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


# --- the job request ------------------------------------------------------------------------

# Host labels start with a letter: an all-digit last label would be read as an IPv4 number.
host_labels = st.from_regex(r"[a-z][a-z0-9]{0,15}", fullmatch=True)
host_names = st.lists(host_labels, min_size=1, max_size=4).map(".".join)
hosts = host_names | host_names.map(str.upper) | st.ip_addresses(v=4).map(str)
url_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"], exclude_characters="/?#\\"),
    max_size=10,
)
paths = st.lists(url_text, max_size=4).map(lambda segments: "/" + "/".join(segments))
queries = st.none() | url_text.map(lambda query: "?" + query)
ports = st.none() | st.integers(1, 65535).map(lambda port: f":{port}")


@st.composite
def urls(draw: st.DrawFn, scheme: st.SearchStrategy[str]) -> str:
    port = draw(ports) or ""
    return f"{draw(scheme)}://{draw(hosts)}{port}{draw(paths)}{draw(queries) or ''}"


@st.composite
def valid_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A ``POST /process-document`` body the contract accepts; optional fields sometimes left
    out, so the defaults are exercised too."""
    body: dict[str, Any] = {
        "jobId": draw(job_ids),
        "documentUrl": draw(urls(st.sampled_from(["http", "https", "s3", "HTTP", "Https"]))),
        "requesterId": draw(st.text(min_size=1, max_size=128).filter(str.strip)),
    }
    optional = {
        "type": st.sampled_from([t.value for t in DocumentType]),
        "callbackUrl": st.none() | urls(st.sampled_from(["http", "https"])),
        "requireApproval": st.booleans(),
        "deadlineSeconds": st.none() | st.integers(1, MAX_DEADLINE_SECONDS),
    }
    for name in draw(st.sets(st.sampled_from(sorted(optional)))):
        body[name] = draw(optional[name])
    return body


@given(valid_requests())
def test_a_valid_request_round_trips_through_its_workflow_input(body: dict[str, Any]) -> None:
    job = JobRequest.model_validate(body)
    sent = job.as_workflow_input(body["requesterId"])

    assert json.loads(json.dumps(sent)) == sent  # plain JSON, as the root promise stores it
    assert sent["jobId"] == body["jobId"]
    assert sent["requesterId"] == body["requesterId"]
    # Reading the workflow input back gives the same job, and the same input: a resent job
    # compares equal to the one its workflow holds (otherwise it would be a 409 conflict).
    again = JobRequest.model_validate(sent)
    assert again == job
    assert again.as_workflow_input(body["requesterId"]) == sent
    assert JobRequest.model_validate_json(json.dumps(body)) == job


@given(
    valid_requests(),
    st.dictionaries(st.text().filter(lambda k: k not in FIELD_NAMES), json_values, min_size=1),
)
def test_unknown_fields_are_refused_by_name(body: dict[str, Any], extra: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as refusal:
        JobRequest.model_validate({**body, **extra})

    assert {e["type"] for e in refusal.value.errors()} == {"extra_forbidden"}
    assert {e["loc"][0] for e in refusal.value.errors()} == set(extra)


@given(valid_requests(), st.text(alphabet=WHITESPACE, min_size=1, max_size=128))
def test_a_blank_requester_is_refused(body: dict[str, Any], blank: str) -> None:
    with pytest.raises(ValidationError) as refusal:
        JobRequest.model_validate({**body, "requesterId": blank})

    assert [e["loc"] for e in refusal.value.errors()] == [("requesterId",)]


@given(
    valid_requests(),
    st.sampled_from(sorted(URL_FIELDS_SCHEMES)),
    st.from_regex(r"[a-zA-Z][a-zA-Z0-9+.-]{0,8}", fullmatch=True),
    st.data(),
)
def test_a_url_with_another_scheme_is_refused(
    body: dict[str, Any], field: str, scheme: str, data: st.DataObject
) -> None:
    allowed = URL_FIELDS_SCHEMES[field]
    url = data.draw(urls(st.just(scheme).filter(lambda s: s.lower() not in allowed)))

    with pytest.raises(ValidationError) as refusal:
        JobRequest.model_validate({**body, field: url})

    assert {e["loc"] for e in refusal.value.errors()} == {(field,)}


# Valid requests with some fields (by either name) replaced by any JSON, and any JSON at all.
mangled_requests = st.builds(
    lambda body, replaced: {**body, **replaced},
    valid_requests(),
    st.dictionaries(st.sampled_from(sorted(FIELD_NAMES)), json_values),
)


@given(mangled_requests | json_values)
def test_any_json_is_either_a_job_or_a_validation_error(value: Any) -> None:
    # Anything else would escape the handler's 422 mapping and answer 500.
    with contextlib.suppress(ValidationError):
        JobRequest.model_validate(value)


@given(st.text() | st.binary())
def test_any_body_text_is_either_a_job_or_a_validation_error(raw: str | bytes) -> None:
    with contextlib.suppress(ValidationError):
        JobRequest.model_validate_json(raw)


# --- job ids ----------------------------------------------------------------------------------


@st.composite
def almost_valid_ids(draw: st.DrawFn) -> str:
    """A valid id with one near miss inserted (at its start and end, too)."""
    job_id = draw(job_ids)
    at = draw(st.integers(0, len(job_id)))
    return job_id[:at] + draw(st.sampled_from(NEAR_MISSES)) + job_id[at:]


# Any text; ids with one near miss; allowed characters at every length around 1-128.
candidate_ids = (
    st.text()
    | almost_valid_ids()
    | st.integers(0, 135).flatmap(
        lambda size: st.text(alphabet=JOB_ID_CHARACTERS, min_size=size, max_size=size)
    )
)


@given(candidate_ids)
@example("demo-1\n")  # a regex's $ also matches before a final newline
@example("x" * 128)
@example("x" * 129)
@example("")
def test_a_job_id_is_valid_exactly_when_it_is_1_to_128_allowed_characters(text: str) -> None:
    expected = 1 <= len(text) <= 128 and set(text) <= set(JOB_ID_CHARACTERS)

    assert is_valid_job_id(text) is expected
    # The request model checks the same pattern with pydantic-core's regex engine.
    body = {"jobId": text, "documentUrl": "https://example.com/a.pdf", "requesterId": "alice"}
    try:
        JobRequest.model_validate(body)
    except ValidationError:
        assert not expected
    else:
        assert expected
    if not expected:
        with pytest.raises(ValueError, match="invalid job id"):
            workflow_id(text)
        with pytest.raises(InvalidJob):
            require_valid_job_id(text)


# What promise ids are made of, with the escapes job ids use and near misses of them.
promise_ids = st.lists(
    st.sampled_from([*JOB_ID_CHARACTERS, "/", "%", "%3A", "%2E", "%3a", "%2e", "doc/"])
).map("".join)


@given(job_ids, promise_ids)
def test_job_id_of_inverts_workflow_id_and_recognises_nothing_else(job_id: str, other: str) -> None:
    assert job_id_of(workflow_id(job_id)) == job_id
    for promise_id in (other, "doc/" + other, workflow_id(job_id) + other):
        found = job_id_of(promise_id)
        # Only a job's own workflow id names a job, and then it names that job.
        assert found is None or workflow_id(found) == promise_id


# --- the URL guard's pure parts ---------------------------------------------------------------

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@given(st.ip_addresses())
def test_exactly_the_non_public_addresses_are_refused(address: Address) -> None:
    # An IPv4-mapped IPv6 address reaches the IPv4 address: it is judged as that address.
    judged = getattr(address, "ipv4_mapped", None) or address
    non_public = (
        not judged.is_global  # outside IANA's globally reachable space (CGNAT included)
        or judged.is_private
        or judged.is_loopback
        or judged.is_link_local
        or judged.is_multicast
        or judged.is_reserved
        or judged.is_unspecified
    )

    assert refused(address) is non_public


@given(st.ip_addresses(v=4))
def test_an_ipv4_mapped_address_is_judged_as_its_ipv4_address(
    address: ipaddress.IPv4Address,
) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")

    assert refused(mapped) is refused(address)


# Secrets are upper case and nothing else in these URLs is: any capital shown is a leak.
secrets = st.text(alphabet=string.ascii_uppercase + "!$&'()*+,;=~", min_size=1, max_size=12)
lower_paths = st.lists(st.from_regex(r"[a-z0-9._-]{0,8}", fullmatch=True), max_size=3).map(
    lambda segments: "/" + "/".join(segments)
)


@given(
    st.sampled_from(["http", "https", "s3"]),
    st.tuples(secrets, st.none() | secrets),
    host_names | st.ip_addresses().map(lambda a: f"[{a}]" if a.version == 6 else str(a)),
    ports,
    lower_paths,
    st.none() | secrets,
    st.none() | secrets,
)
def test_a_shown_url_has_no_credentials_query_or_fragment(
    scheme: str,
    credentials: tuple[str, str | None],
    host: str,
    port: str | None,
    path: str,
    query: str | None,
    fragment: str | None,
) -> None:
    user, password = credentials
    userinfo = user + (f":{password}" if password is not None else "") + "@"
    url = f"{scheme}://{userinfo}{host}{port or ''}{path}"
    if query is not None:
        url += f"?{query}"
    if fragment is not None:
        url += f"#{fragment}"

    shown = shown_url(url)

    assert not any(c in string.ascii_uppercase for c in shown), (url, shown)
    assert shown.startswith(f"{scheme}://{host}")


@given(st.text())
def test_any_text_is_shown_without_userinfo_or_fragment_and_never_raises(text: str) -> None:
    shown = shown_url(text)

    if shown != "<unreadable URL>":
        parts = urlsplit(shown)
        assert (parts.username, parts.password, parts.fragment) == (None, None, "")
        assert parts.query in ("", "…")
