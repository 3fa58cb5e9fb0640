"""Hypothesis strategies for Label Studio ``result`` lists, shaped like real payloads."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Few labels, so that random annotations agree often enough to exercise every score.
LABELS = ["pos", "neg", "neu", "négatif", "积极"]


def choices_item(from_name: str, chosen: list[str]) -> dict[str, Any]:
    """A Choices result item as Label Studio writes it."""
    return {
        "from_name": from_name,
        "to_name": "text",
        "type": "choices",
        "value": {"choices": chosen},
    }


single_choice = st.sampled_from(LABELS).map(lambda label: [choices_item("sentiment", [label])])
multi_choice = st.lists(st.sampled_from(LABELS), max_size=4, unique=True).map(
    lambda chosen: [choices_item("topics", chosen)]
)
rating = st.integers(1, 3).map(
    lambda stars: [
        {
            "id": "r1",
            "from_name": "stars",
            "to_name": "text",
            "type": "rating",
            "value": {"rating": stars},
        }
    ]
)
relation = st.just([{"from_id": "a", "to_id": "b", "type": "relation", "direction": "right"}])

# A result is any mix of the tags above, each present or not: absent tags, empty
# results and multi-tag results all occur.
results = st.tuples(
    st.one_of(st.just([]), single_choice),
    st.one_of(st.just([]), multi_choice),
    st.one_of(st.just([]), rating),
    st.one_of(st.just([]), relation),
).map(lambda parts: [item for part in parts for item in part])

weights = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "sentiment": st.sampled_from([0.0, 0.5, 1.0, 3.0]),
            "topics": st.sampled_from([0.0, 0.1, 1.0, 2.0]),
            "stars": st.sampled_from([0.0, 1.0, 0.3]),
        },
    ),
)
