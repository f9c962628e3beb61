"""AWS clients: one per service and container, created on first use, with explicit timeouts and
botocore's standard retry mode. Nothing here sends a request."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3

from taskapi import bootstrap
from taskapi.adapters.aws.clients import AwsClients, AwsClientSettings
from taskapi.config import Settings

SETTINGS = AwsClientSettings(
    region="eu-west-1",
    endpoint_url="http://127.0.0.1:9",
    connect_timeout_seconds=1.5,
    read_timeout_seconds=4.0,
    max_attempts=5,
)


def clients() -> AwsClients:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    return AwsClients(SETTINGS, session=session)


def test_a_client_is_created_once_and_then_reused() -> None:
    aws = clients()
    assert aws.dynamodb is aws.dynamodb
    assert aws.events is aws.events


def test_threads_asking_at_once_share_one_client() -> None:
    aws = clients()
    start = threading.Barrier(8)

    def first_use() -> object:
        start.wait()
        return aws.dynamodb

    with ThreadPoolExecutor(max_workers=8) as pool:
        seen = {id(client) for client in pool.map(lambda _: first_use(), range(8))}
    assert len(seen) == 1


def test_every_client_has_the_configured_timeouts_retries_endpoint_and_region() -> None:
    aws = clients()
    for client in (aws.dynamodb, aws.events):
        config = client.meta.config
        assert config.connect_timeout == 1.5
        assert config.read_timeout == 4.0
        assert config.retries == {"mode": "standard", "total_max_attempts": 5}
        assert client.meta.endpoint_url == "http://127.0.0.1:9"
        assert client.meta.region_name == "eu-west-1"


def test_bootstrap_shares_one_set_of_clients_per_configuration() -> None:
    settings = Settings(store="dynamodb", aws_region="eu-west-1", aws_max_attempts=4)
    same = Settings(store="dynamodb", aws_region="eu-west-1", aws_max_attempts=4)
    other = Settings(store="dynamodb", aws_region="eu-central-1")

    assert bootstrap.get_aws_clients(settings) is bootstrap.get_aws_clients(same)
    assert bootstrap.get_aws_clients(settings) is not bootstrap.get_aws_clients(other)
    assert bootstrap.get_aws_clients(settings).settings.max_attempts == 4
