"""Tool calling on the real model through the official `openai` client: required, named
and auto tool_choice, the call -> tool result -> answer round trip, streamed calls shaped
as OpenAI streams them, parallel_tool_calls, and errors that name the field."""
import json

import jsonschema
import pytest


WEATHER = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40},
                                              "unit": {"enum": ["celsius", "fahrenheit"]}},
           "required": ["city", "unit"]}
TIME = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}, "required": ["city"]}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
                                           "parameters": WEATHER}},
         {"type": "function", "function": {"name": "get_time", "description": "Current time in a city",
                                           "parameters": TIME}}]
SCHEMAS = {"get_weather": WEATHER, "get_time": TIME}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def check_calls(calls, only=None):
    assert calls, "no tool calls"
    for c in calls:
        assert c.type == "function" and c.id.startswith("call_")
        assert c.function.name in SCHEMAS and (only is None or c.function.name == only)
        jsonschema.validate(json.loads(c.function.arguments), SCHEMAS[c.function.name])


@pytest.mark.parametrize("choice,only", [
    ("required", None),
    ({"type": "function", "function": {"name": "get_time"}}, "get_time"),
])
def test_constrained_choices_always_call(client, server, choice, only):
    for seed, temperature in ((0, 0), (1, 1.0), (2, 1.0)):
        r = client.chat.completions.create(model=server.name, messages=ASK, tools=TOOLS, tool_choice=choice,
                                           max_tokens=150, temperature=temperature, seed=seed)
        c = r.choices[0]
        assert c.finish_reason == "tool_calls", c
        assert c.message.content is None
        check_calls(c.message.tool_calls, only)


def test_parallel_tool_calls_false_gives_one_call(client, server):
    r = client.chat.completions.create(model=server.name, messages=ASK, tools=TOOLS, tool_choice="required",
                                       parallel_tool_calls=False, max_tokens=150, temperature=0)
    assert len(r.choices[0].message.tool_calls) == 1


def test_round_trip_call_result_answer(client, server):
    r = client.chat.completions.create(model=server.name, messages=ASK, tools=TOOLS, tool_choice="required",
                                       parallel_tool_calls=False, max_tokens=150, temperature=0)
    msg = r.choices[0].message
    call = msg.tool_calls[0]
    follow = ASK + [msg.model_dump(exclude_none=True),
                    {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temp_c": 18, "sky": "cloudy"})}]
    r2 = client.chat.completions.create(model=server.name, messages=follow, tools=TOOLS, max_tokens=60, temperature=0)
    c = r2.choices[0]
    assert c.finish_reason in ("stop", "length", "tool_calls")
    assert (c.message.content or c.message.tool_calls)
    # The second prompt carries the call and its result: longer by at least their text.
    assert r2.usage.prompt_tokens > r.usage.prompt_tokens + 20


def test_auto_returns_text_or_valid_calls(client, server):
    r = client.chat.completions.create(model=server.name, messages=ASK, tools=TOOLS, max_tokens=100, temperature=0)
    c = r.choices[0]
    if c.message.tool_calls:
        assert c.finish_reason == "tool_calls"
        check_calls(c.message.tool_calls)
    else:
        assert c.finish_reason in ("stop", "length") and c.message.content


def test_none_leaves_tools_out(client, server):
    r = client.chat.completions.create(model=server.name, messages=ASK, tools=TOOLS, tool_choice="none",
                                       max_tokens=30, temperature=0)
    assert r.choices[0].message.tool_calls is None
    usage_none = r.usage.prompt_tokens
    r = client.chat.completions.create(model=server.name, messages=ASK, tools=TOOLS, tool_choice="auto",
                                       max_tokens=1, temperature=0)
    assert r.usage.prompt_tokens > usage_none + 50  # the tool descriptions are in the prompt


def test_streamed_calls_come_as_openai_deltas(client, server):
    stream = client.chat.completions.create(model=server.name, messages=ASK, tools=TOOLS, tool_choice="required",
                                            max_tokens=150, temperature=0, stream=True)
    calls, finish, firsts = {}, None, []
    for chunk in stream:
        if not chunk.choices:
            continue
        d = chunk.choices[0].delta
        for tc in d.tool_calls or []:
            if tc.id:
                firsts.append(tc.index)
                assert tc.function.name and tc.function.arguments == ""
                calls[tc.index] = {"name": tc.function.name, "arguments": ""}
            else:
                calls[tc.index]["arguments"] += tc.function.arguments
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert firsts == sorted(calls)
    for c in calls.values():
        jsonschema.validate(json.loads(c["arguments"]), SCHEMAS[c["name"]])


@pytest.mark.parametrize("extra,param,words", [
    ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools", "name"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "minProperties": 1}}}]},
     "tools", "minProperties"),
    ({"tools": [{"type": "function", "function": {"name": "f", "returns": {}}}]}, "tools", "returns"),
    ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice", "nope"),
    ({"tools": TOOLS, "tool_choice": "sometimes"}, "tool_choice", "'required'"),
    ({"tool_choice": "required"}, "tool_choice", "needs 'tools'"),
    ({"tools": TOOLS + TOOLS[:1]}, "tools", "defined twice"),
    ({"tools": TOOLS, "tool_choice": "required", "response_format": {"type": "json_object"}}, "tool_choice", "combined"),
])
def test_bad_tool_requests_answer_400_naming_the_field(server, extra, param, words):
    r = server.post("/v1/chat/completions", {"model": server.name, "messages": ASK, "max_tokens": 5, **extra})
    assert r.status_code == 400, r.text
    e = r.json()["error"]
    assert e["param"] == param and words in e["message"], e


def test_constrained_tool_requests_are_counted(server, client):
    before = server.metric("turbine_structured_requests_total", {"kind": "tools"})
    client.chat.completions.create(model=server.name, messages=ASK, tools=TOOLS, tool_choice="required",
                                   max_tokens=150, temperature=0)
    assert server.metric("turbine_structured_requests_total", {"kind": "tools"}) == before + 1
