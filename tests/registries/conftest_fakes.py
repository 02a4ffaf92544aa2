"""Fixtures that start the fake registry servers of :mod:`tests.fakes`.

Faithful fakes built from the documented shapes; the real services cannot be
reached here. pytest loads only ``conftest.py`` files by itself, so test modules
import the fixtures they use from here by name.
"""

from __future__ import annotations

import pytest

from tests.fakes.artifactory import FakeArtifactory
from tests.fakes.dockerhub import FakeDockerHub
from tests.fakes.harbor import FakeHarbor
from tests.fakes.v1 import FakeV1Registry


@pytest.fixture
def fake_v1_index():
    """Start an empty fake V1 index (paged search, full result shape)."""
    with FakeV1Registry(standalone=False) as fake:
        yield fake


@pytest.fixture
def fake_v1_standalone():
    """Start an empty fake standalone V1 registry (short search shape)."""
    with FakeV1Registry(standalone=True) as fake:
        yield fake


@pytest.fixture
def fake_dockerhub():
    """Start an empty fake Docker Hub (hub API, token service, registry)."""
    with FakeDockerHub() as fake:
        yield fake


@pytest.fixture
def fake_harbor():
    """Start a fake Harbor with only its ``admin`` user and no projects."""
    with FakeHarbor() as fake:
        yield fake


@pytest.fixture
def fake_artifactory():
    """Start a fake Artifactory without anonymous access and no Docker keys."""
    with FakeArtifactory() as fake:
        yield fake
