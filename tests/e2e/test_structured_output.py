"""Structured output on the real model through the official `openai` client:
`client.beta.chat.completions.parse` with 20 Pydantic models (the reply must parse and
validate every time), json_object, the `grammar` extension on both endpoints, sampled and
streamed constrained output, errors that name the construct, and the metrics."""
import datetime
import enum
import json
import uuid
from typing import List, Literal, Optional

import jsonschema
import pytest
from pydantic import BaseModel, Field, conint, constr



class Color(str, enum.Enum):
    red = "red"
    green = "green"
    blue = "blue"


class Person(BaseModel):
    name: str
    age: int


class Book(BaseModel):
    title: str
    author: str
    year: int


class City(BaseModel):
    name: str
    country: str
    population: int


class Flag(BaseModel):
    answer: bool


class Weather(BaseModel):
    city: str
    temperature_c: float
    sky: Literal["sunny", "cloudy", "rainy"]


class Paint(BaseModel):
    color: Color
    liters: conint(ge=1, le=20)


class Address(BaseModel):
    street: str
    zip_code: constr(pattern=r"^[0-9]{5}$")


class Customer(BaseModel):
    name: str
    address: Address


class Shopping(BaseModel):
    items: List[str] = Field(max_length=4)


class Step(BaseModel):
    number: int
    action: str


class Recipe(BaseModel):
    dish: str
    steps: List[Step] = Field(max_length=3)


class Nick(BaseModel):
    name: str
    nickname: Optional[str]


class Event(BaseModel):
    title: str
    date: datetime.date


class Ticket(BaseModel):
    id: uuid.UUID
    seat: constr(max_length=4)


class Score(BaseModel):
    player: str
    points: conint(ge=0, le=100)
    rank: conint(ge=1, le=10)


class Pet(BaseModel):
    kind: Literal["cat", "dog"]
    name: str
    vaccinated: bool


class Owner(BaseModel):
    owner: str
    pets: List[Pet] = Field(max_length=2)


class Coords(BaseModel):
    lat: float
    lon: float


class Login(BaseModel):
    email: str = Field(pattern=r"^[a-z]+@[a-z]+\.com$")
    remember: bool


class LineItem(BaseModel):
    product: str
    quantity: conint(ge=1, le=99)


class Invoice(BaseModel):
    currency: Literal["EUR", "USD"]
    lines: List[LineItem] = Field(max_length=2)
    paid: bool


CASES = [
    (Person, "Describe a person: name and age."),
    (Book, "Tell me about a famous book."),
    (City, "Describe the city of Paris."),
    (Flag, "Is the sky blue?"),
    (Weather, "What is the weather in London?"),
    (Paint, "How much paint do I need for a small room?"),
    (Address, "Give me an address."),
    (Customer, "Create a customer record."),
    (Shopping, "List what to buy for a salad."),
    (Recipe, "How do I make tea?"),
    (Nick, "Who is Robert and what is his nickname?"),
    (Event, "When is New Year's Day 2025?"),
    (Ticket, "Issue a concert ticket."),
    (Score, "Record a game score."),
    (Pet, "Describe my cat Tom."),
    (Owner, "Alice has a dog named Rex."),
    (Coords, "Where is Berlin on a map?"),
    (Login, "Log in as bob."),
    (Invoice, "Bill two coffees in euros."),
    (Person, "Describe a doctor."),
]


@pytest.mark.parametrize("model,prompt", CASES, ids=[f"{i}-{m.__name__}" for i, (m, _) in enumerate(CASES)])
def test_parse_returns_a_valid_instance(client, server, model, prompt):
    r = client.beta.chat.completions.parse(model=server.name, messages=[{"role": "user", "content": prompt}],
                                           response_format=model, max_tokens=400, temperature=0)
    choice = r.choices[0]
    assert choice.finish_reason == "stop", choice
    assert isinstance(choice.message.parsed, model)
    model.model_validate_json(choice.message.content)  # the raw text validates too


def test_sampled_output_follows_the_schema(server):
    """Temperature sampling (masked only when the draw is refused) and top-p (always masked)."""
    schema = Score.model_json_schema()
    for kw in ({"temperature": 1.0}, {"temperature": 0.9, "top_p": 0.8, "top_k": 40}):
        for seed in range(4):
            r = server.post("/v1/chat/completions", {
                "model": server.name, "messages": [{"role": "user", "content": "Record a game score."}],
                "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
                "max_tokens": 300, "seed": seed, **kw})
            assert r.status_code == 200, r.text
            c = r.json()["choices"][0]
            assert c["finish_reason"] == "stop", c
            jsonschema.validate(json.loads(c["message"]["content"]), schema)


def test_json_object_gives_an_object(server):
    r = server.post("/v1/chat/completions", {
        "model": server.name, "messages": [{"role": "user", "content": "Describe a dog in JSON."}],
        "response_format": {"type": "json_object"}, "max_tokens": 200, "temperature": 0})
    assert r.status_code == 200, r.text
    text = r.json()["choices"][0]["message"]["content"]
    assert text.startswith("{")
    if r.json()["choices"][0]["finish_reason"] == "stop":
        assert isinstance(json.loads(text), dict)


def test_streamed_deltas_join_into_valid_json(client, server):
    stream = client.chat.completions.create(
        model=server.name, messages=[{"role": "user", "content": "Describe my cat Tom."}], stream=True,
        response_format={"type": "json_schema", "json_schema": {"name": "pet", "schema": Pet.model_json_schema()}},
        max_tokens=200, temperature=0)
    parts, finish = [], None
    for chunk in stream:
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
    assert finish == "stop"
    Pet.model_validate_json("".join(parts))


def test_grammar_on_completions_and_chat(server):
    g = 'root ::= ("yes" | "no") "." | "maybe"'
    for path, body in (("/v1/completions", {"prompt": "Is water wet? Answer:"}),
                       ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Is water wet?"}]})):
        for seed in range(3):
            r = server.post(path, {"model": server.name, "grammar": g, "max_tokens": 10, "seed": seed,
                                   "temperature": 1.0, **body})
            assert r.status_code == 200, r.text
            c = r.json()["choices"][0]
            text = c.get("text", c.get("message", {}).get("content"))
            assert text in ("yes.", "no.", "maybe"), text
            assert c["finish_reason"] == "stop"


def test_response_format_works_on_completions(server):
    r = server.post("/v1/completions", {
        "model": server.name, "prompt": "A person as JSON:", "max_tokens": 200, "temperature": 0,
        "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": Person.model_json_schema()}}})
    assert r.status_code == 200, r.text
    Person.model_validate_json(r.json()["choices"][0]["text"])


@pytest.mark.parametrize("field,value,param,words", [
    ("response_format", {"type": "json_schema", "json_schema": {"schema": {"type": "integer", "multipleOf": 3}}},
     "response_format", "multipleOf"),
    ("response_format", {"type": "json_schema", "json_schema": {"schema": {"type": "string", "format": "uri"}}},
     "response_format", "format 'uri'"),
    ("response_format", {"type": "json_schema"}, "response_format", "json_schema"),
    ("response_format", {"type": "xml"}, "response_format", "'text', 'json_object' or 'json_schema'"),
    ("response_format", {"type": "json_object", "schema": {}}, "response_format", "response_format.schema"),
    ("grammar", "root ::= item\n", "grammar", "'item' is used but never defined"),
    ("grammar", "root ::= \"a\"\nx ::= [b", "grammar", "line 2"),
    ("grammar", 42, "grammar", "non-empty string"),
])
def test_bad_constraints_answer_400_naming_them(server, field, value, param, words):
    before = server.metric("turbine_requests_rejected_total", {"reason": "invalid"})
    r = server.post("/v1/chat/completions", {"model": server.name, "max_tokens": 5,
                                             "messages": [{"role": "user", "content": "x"}], field: value})
    assert r.status_code == 400, r.text
    e = r.json()["error"]
    assert e["param"] == param and words in e["message"], e
    assert server.metric("turbine_requests_rejected_total", {"reason": "invalid"}) == before + 1


def test_grammar_and_a_json_format_together_are_refused(server):
    r = server.post("/v1/chat/completions", {"model": server.name, "messages": [{"role": "user", "content": "x"}],
                                             "grammar": 'root ::= "a"', "response_format": {"type": "json_object"}})
    assert r.status_code == 400 and r.json()["error"]["param"] == "grammar", r.text


def test_metrics_count_constraints_and_compiles(server):
    kinds = {k: server.metric("turbine_structured_requests_total", {"kind": k}) for k in ("json_object", "grammar")}
    compiles = server.metric("turbine_grammar_compile_seconds_count")
    g = 'root ::= "unique-' + uuid.uuid4().hex + '"'
    for _ in range(2):  # the second is a cache hit
        r = server.post("/v1/completions", {"model": server.name, "prompt": "x", "grammar": g, "max_tokens": 40})
        assert r.status_code == 200 and r.json()["choices"][0]["text"].startswith("unique-"), r.text
    r = server.post("/v1/completions", {"model": server.name, "prompt": "x", "max_tokens": 3,
                                        "response_format": {"type": "json_object"}})
    assert r.status_code == 200
    assert server.metric("turbine_structured_requests_total", {"kind": "grammar"}) == kinds["grammar"] + 2
    assert server.metric("turbine_structured_requests_total", {"kind": "json_object"}) == kinds["json_object"] + 1
    assert server.metric("turbine_grammar_compile_seconds_count") == compiles + 1
