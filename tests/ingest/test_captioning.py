import json
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from backend.ingest.captioning import CaptioningError, FigureContext, get_captioner
from backend.ingest.captioning.base import CaptioningUnavailable
from backend.ingest.captioning.llm import LLMCaptioner, UnusableAnswer, captions_schema, parse_captions
from backend.ingest.captioning.template import TemplateCaptioner
from backend.ingest.captioning.vocabulary import viewpoint_synonyms
from backend.settings import Settings

FIG = FigureContext("USD0907292", 1, "Shaving blade cartridge", "FIG. 1",
                    "FIG. 1 is a front left perspective view of a shaving blade cartridge;", "front left perspective",
                    "shaving blade cartridge", "S1", [], ["28-03"])


def test_viewpoint_synonyms():
    top = viewpoint_synonyms("top plan")
    assert "top plan view" in top and "view from above" in top
    fl = viewpoint_synonyms("front left perspective")
    assert fl[0] == "front left perspective view" and "three-dimensional view from the front left" in fl
    assert "flowchart" in viewpoint_synonyms("flow chart") and viewpoint_synonyms(None) == []


def test_template_captions_are_several_and_synonym_rich(shared_data_optional):
    captioner = TemplateCaptioner(shared_data_optional)
    caps = captioner.caption([FIG])[0]
    assert 3 <= len(caps) <= 5 and len(set(caps)) == len(caps)
    text = " ".join(caps).lower()
    assert "shaving blade cartridge" in text and "three-dimensional" in text
    assert "toilet articles" in text                       # Locarno 28 heading
    assert caps == captioner.caption([FIG])[0]             # deterministic


@pytest.mark.shared_data
def test_template_uses_cpc_titles(shared_data):
    fig = FigureContext("US1", 1, "Chair", "FIG. 1", "FIG. 1 is a side view of a chair.", "side", "chair", "B2",
                        ["A47C7/62"], [])
    caps = TemplateCaptioner(shared_data / "cpc_titles").caption_one(fig)
    assert any("chairs" in c.lower() for c in caps), caps


@pytest.fixture
def shared_data_optional():
    from backend.settings import SHARED_DATA

    return SHARED_DATA / "cpc_titles"


class FakeLLM:
    """A real HTTP server speaking the chat-completions protocol, counting calls."""

    def __init__(self):
        self.calls = 0
        self.fail_next = 0           # answer 500 this many times
        self.content = None          # override the answer text
        self.requests: list[dict] = []
        self.only_json_object = False  # answer a json_schema response_format as llama.cpp's server does

    def __call__(self, environ, start_response):
        request = Request(environ)
        body = json.loads(request.get_data())
        self.calls += 1
        self.requests.append(body)
        if request.path != "/v1/chat/completions":
            return Response("not found", 404)(environ, start_response)
        if self.only_json_object and body.get("response_format", {}).get("type") == "json_schema":
            message = "response_format.type: Input should be 'text' or 'json_object'"
            return Response(json.dumps({"error": {"message": message}}), 500)(environ, start_response)
        if self.fail_next:
            self.fail_next -= 1
            return Response("overloaded", 500)(environ, start_response)
        facts = body["messages"][-1]["content"]
        content = self.content if self.content is not None else json.dumps(
            [f"caption {i} for {'chair' if 'chair' in facts else 'figure'}" for i in range(3)])
        answer = {"choices": [{"message": {"role": "assistant", "content": content}}]}
        return Response(json.dumps(answer), 200, content_type="application/json")(environ, start_response)


@pytest.fixture
def llm_server() -> Iterator[tuple[str, FakeLLM]]:
    app = FakeLLM()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()


def _captioner(url, tmp_path, **kw):
    return LLMCaptioner(url, "test-model", api_key="k", timeout_s=5, retries=kw.pop("retries", 2),
                        captions_per_figure=3, cache_dir=tmp_path / "cache", backoff_s=0.01, **kw)


def test_llm_captions_parsed_and_cached(llm_server, tmp_path):
    url, server = llm_server
    figs = [FIG, FigureContext("US2", 1, "Chair", description="FIG. 1 is a side view of a chair.", viewpoint="side",
                               object_name="chair")]
    caps = _captioner(url, tmp_path).caption(figs)
    assert caps[1] == ["caption 0 for chair", "caption 1 for chair", "caption 2 for chair"]
    assert server.calls == 2 and server.requests[0]["model"] == "test-model"
    again = _captioner(url, tmp_path).caption(figs)     # a new captioner: the disk cache answers
    assert again == caps and server.calls == 2
    changed = FigureContext("US2", 1, "Chair", description="FIG. 1 is a top view of a chair.")
    _captioner(url, tmp_path).caption([changed])
    assert server.calls == 3


def test_llm_retries_after_500(llm_server, tmp_path):
    url, server = llm_server
    server.fail_next = 2
    caps = _captioner(url, tmp_path, retries=3).caption_one(FIG)
    assert len(caps) == 3 and server.calls == 3


def test_llm_gives_up_with_a_clear_error(llm_server, tmp_path):
    url, server = llm_server
    server.fail_next = 10
    with pytest.raises(CaptioningUnavailable, match="failed after 2 attempts"):
        _captioner(url, tmp_path, retries=1).caption_one(FIG)
    assert server.calls == 2


@pytest.mark.parametrize("content, message", [
    ("Sure! Here are some captions: a chair, a seat.", "not a JSON array"),
    ("[1, 2, 3]", "array of strings"),
    ("[\"unterminated", "not a JSON array"),
])
def test_llm_garbage_is_a_clear_error_and_not_cached(llm_server, tmp_path, content, message):
    url, server = llm_server
    server.content = content
    with pytest.raises(CaptioningError, match=message):
        _captioner(url, tmp_path).caption_one(FIG)
    assert not any((tmp_path / "cache").rglob("*.json"))


def test_parse_captions_tolerates_fences():
    assert parse_captions('```json\n["a chair seen", "side view", "a chair seen"]\n```', 5) == \
        ["a chair seen", "side view"]


def test_parse_captions_reads_the_schema_object_and_drops_scraps():
    answer = 'Here: {"captions": ["Top plan view of a  chair", "", "x", "View from above of a seat"]} done'
    assert parse_captions(answer, 3) == ["Top plan view of a chair", "View from above of a seat"]
    with pytest.raises(UnusableAnswer, match="no usable caption"):
        parse_captions('{"captions": ["", "ok"]}', 3)
    # what SmolLM2 wrote under llama.cpp's grammar: a raw newline inside a string, a scrap of JSON as a caption
    answer = '{"captions": [ "Front view of a\nlamp, seen from the front", "}\n{}] }\n{\n  " ]}'
    assert parse_captions(answer, 3) == ["Front view of a lamp, seen from the front"]


def test_request_carries_a_json_schema(tmp_path):
    body = _captioner("http://127.0.0.1:9", tmp_path).request_body([{"role": "user", "content": "x"}])
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["captions"]["minItems"] == 3 and body["temperature"] == 0
    assert "response_format" not in _captioner("http://127.0.0.1:9", tmp_path, response_format="none").request_body([])


def test_auto_response_format_switches_to_json_object_when_refused(llm_server, tmp_path):
    url, server = llm_server
    server.only_json_object = True
    captioner = _captioner(url, tmp_path, retries=0)
    assert len(captioner.caption_one(FIG)) == 3 and captioner.response_format == "json_object"
    assert [r["response_format"]["type"] for r in server.requests] == ["json_schema", "json_object"]
    captioner.caption_one(FigureContext("US3", 1, "Lamp"))
    assert server.requests[-1]["response_format"] == {"type": "json_object", "schema": captions_schema(3)}
    with pytest.raises(CaptioningUnavailable):            # told json_schema only: the refusal stands
        _captioner(url, tmp_path, retries=0, response_format="json_schema").caption_one(FigureContext("US4", 1))


def test_prompt_names_classification_titles(tmp_path):
    user = _captioner("http://127.0.0.1:9", tmp_path).messages(FIG)[-1]["content"]
    assert "front left perspective" in user and "Locarno 28-03 (Pharmaceutical and cosmetic" in user


def test_unusable_answer_falls_back_to_template_with_a_note(llm_server, tmp_path):
    url, server = llm_server
    server.content = "I cannot help with that."
    captioner = _captioner(url, tmp_path)
    captions, notes = captioner.caption_noted([FIG])
    assert captions == [TemplateCaptioner().caption_one(FIG)]
    assert len(notes) == 1 and notes[0].startswith("FIG. 1: template captions") and "not a JSON array" in notes[0]
    assert captioner.caption([FIG]) == captions          # caption() gives the same fallback


def test_a_refused_request_fails_instead_of_falling_back(llm_server, tmp_path):
    url, _ = llm_server
    with pytest.raises(CaptioningError, match="HTTP 404"):
        _captioner(url + "/wrong", tmp_path).caption_noted([FIG])


def test_no_captioner(tmp_path):
    assert get_captioner(Settings(data_dir=tmp_path, captioner="none")).caption([FIG, FIG]) == [[], []]


def test_get_captioner_from_settings(tmp_path):
    assert get_captioner(Settings(data_dir=tmp_path)).name == "template"
    llm = get_captioner(Settings(data_dir=tmp_path, captioner="llm", llm_base_url="http://127.0.0.1:9/v1"))
    assert llm.url == "http://127.0.0.1:9/v1/chat/completions"
    with pytest.raises(CaptioningError, match="PRISM_LLM_BASE_URL"):
        get_captioner(Settings(data_dir=tmp_path, captioner="llm"))
