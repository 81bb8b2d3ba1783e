"""The real Gemma-3 270M served end to end with the official `openai` client: the model list
names the architecture, completions and streamed chat work through the Gemma turn format,
and greedy output repeats."""
import openai
import pytest
import requests

from server_fixture import Server


@pytest.fixture(scope="module")
def server(turbine, gemma3_model):
    s = Server(turbine, gemma3_model, "--kv-blocks", "256", "--max-running", "4")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base + "/v1", api_key="none", max_retries=0)


def test_models_name_gemma3(server):
    data = requests.get(server.base + "/v1/models", timeout=10).json()["data"]
    assert [(m["id"], m["architecture"]) for m in data] == [("test-model", "gemma3")]
    assert data[0]["max_model_len"] > 0


def test_completion_continues_the_text_and_repeats(client):
    kw = dict(model="test-model", prompt="The capital of France is", max_tokens=12, temperature=0)
    a = client.completions.create(**kw)
    b = client.completions.create(**kw)
    assert a.choices[0].text == b.choices[0].text
    assert "Paris" in a.choices[0].text or "France" in a.choices[0].text, a.choices[0].text
    assert a.usage.prompt_tokens == 6  # <bos> + 5 words, as llama.cpp tokenizes it


def test_chat_prompt_uses_gemma_turns(server, client):
    tok = server.post("/tokenize", {"messages": [{"role": "system", "content": "Be brief."},
                                                  {"role": "user", "content": "Hi"}]}).json()
    # <bos> <start_of_turn> user \n ... <end_of_turn> \n <start_of_turn> model \n
    assert tok["tokens"][:2] == [2, 105]
    assert tok["tokens"].count(105) == 2 and tok["tokens"].count(106) == 1
    chunks = list(client.chat.completions.create(
        model="test-model", messages=[{"role": "user", "content": "Name a colour."}],
        max_tokens=8, temperature=0, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert len(text) > 0
