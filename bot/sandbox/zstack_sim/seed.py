"""Seed data: demo identities and model services (one of them the API page's example inventory).

Passwords are the demo plaintexts; the simulator stores their SHA-512 hex, as ZStack does, and
clients send ``hashlib.sha512(pw.encode()).hexdigest()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.sandbox.zstack_sim.models import ModelService, ServiceImage


@dataclass(frozen=True)
class DemoAccount:
    name: str
    password: str
    uuid: str


@dataclass(frozen=True)
class DemoUser:
    """An IAM user; it acts with the rights of its ``account``."""

    name: str
    account: str
    password: str
    uuid: str


@dataclass(frozen=True)
class DemoVirtualId:
    """An IAM2 virtual ID (project user); it acts for its project's ``account``."""

    name: str
    account: str
    password: str
    uuid: str


# ZStack's built-in admin account has this fixed uuid; it sees every resource.
ADMIN_ACCOUNT_UUID = "36c27e8ff05c4780bf6d2fa65700f22e"

DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", "password", ADMIN_ACCOUNT_UUID),
    DemoAccount("alice", "alice-pass", "a11ce0000000400080000000000a11ce"),
    # The account behind the IAM2 project "ml-platform" that carol works in.
    DemoAccount("ml-platform", "ml-platform-pass", "3a1f0c2d9b7e4c51a8d6e2f40b9c7d15"),
)
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("bob", "alice", "bob-pass", "b0b00000000040008000000000000b0b"),
)
DEMO_VIRTUAL_IDS: tuple[DemoVirtualId, ...] = (
    DemoVirtualId("carol", "ml-platform", "carol-pass", "ca201000000040008000000000ca2010"),
)

EXAMPLE_SERVICE_UUID = "90d425a802ff44eeb530f21587633700"
QWEN_SERVICE_UUID = "5f1c2a7e3d9b4c8e9a6f0b1d2c3e4f50"
LLAMA_SERVICE_UUID = "7b3e9d214c6a4f0e8d2b5a1c9e7f6d30"
BGE_SERVICE_UUID = "c4d8e2f61a3b4e7d9c0f5b8a2e6d1f47"

_MODEL_CENTER_UUID = "432c5fdd49374bb0a2fd7877f0a877cf"
_ACCOUNTS = {a.name: a.uuid for a in DEMO_ACCOUNTS}

# The API page's example YAML, with its package-mirror host replaced by an example.com name.
_EXAMPLE_YAML = (
    "services:\n - ports:\n - 3000\n name: qwen1.5-7b-chat:2b34xhrmqwhomjkd\n livez: /livez\n"
    " readyz: /readyz\n serviceBootupTime: 30\nenv:\n - key:value\n - key:value\ndistro:\n"
    " packages: vim,nfs-utils\npython:\n requirements_txt: ./requirements.txt\n"
    " index_url: https://pip-mirror.example.com/simple\n"
    " trusted_host: pip-mirror.example.com\n"
)


def _example() -> ModelService:
    """The API page's response example, field for field (owned by alice)."""
    when = datetime(2025, 11, 25, 11, 51, 50)
    uuid = EXAMPLE_SERVICE_UUID
    return ModelService(
        uuid=uuid,
        name="example",
        owner_account_uuid=_ACCOUNTS["alice"],
        description="Example description for modelService",
        yaml=_EXAMPLE_YAML,
        request_cpu=1,
        request_memory=1024,
        model_center_uuid=_MODEL_CENTER_UUID,
        type="Endpoint",
        system=True,
        gpu_compute_capability="3.7",
        install_path="/example/install/path",
        python_version="3.8.10",
        conda_version="23.7.4",
        start_command="python3 app.py",
        support_distributed=True,
        images=[
            ServiceImage(
                uuid="c13336388d574fec824752525ae05a21",
                model_service_uuid=uuid,
                cpu_architecture="x86_64",
                vm_image_uuid="b31bc4574f22426a89902edac5d14a72",
                docker_image="registry.example.com/x86_64/myimage:latest",
                create_date=when,
                last_op_date=when,
            ),
            ServiceImage(
                uuid="46c0e4bb46e849059e6d6bc8881d86f3",
                model_service_uuid=uuid,
                cpu_architecture="aarch64",
                vm_image_uuid="b2085e2ac2d84029a7947cb09178daaa",
                docker_image="registry.example.com/aarch64/myimage:latest",
                create_date=when,
                last_op_date=when,
            ),
        ],
        create_date=when,
        last_op_date=when,
    )


def _qwen() -> ModelService:
    """A vLLM chat endpoint owned by admin (alice cannot see or clone it)."""
    when = datetime(2025, 10, 28, 14, 9, 26)
    uuid = QWEN_SERVICE_UUID
    return ModelService(
        uuid=uuid,
        name="qwen2.5-7b-instruct",
        owner_account_uuid=ADMIN_ACCOUNT_UUID,
        description="Qwen2.5 7B Instruct served by vLLM (OpenAI-compatible API)",
        readme="# Qwen2.5-7B-Instruct\nChat completions on port 8000.",
        yaml="services:\n - ports:\n - 8000\n name: qwen2.5-7b-instruct\n",
        request_cpu=8,
        request_memory=32768,
        model_center_uuid=_MODEL_CENTER_UUID,
        type="Endpoint",
        framework="vLLM",
        source="HuggingFace",
        size=15231233024,
        system=False,
        gpu_compute_capability="8.0",
        install_path="/opt/models/qwen2.5-7b-instruct",
        python_version="3.10.14",
        conda_version="24.1.2",
        start_command="python -m vllm.entrypoints.openai.api_server --model /opt/models/qwen",
        container_command="python",
        container_args="-m vllm.entrypoints.openai.api_server --port 8000",
        support_distributed=True,
        cpu_architectures=["x86_64"],
        vendor_to_spec_uuids_map={"NVIDIA": ["e1f2a3b4c5d64e7f8a9b0c1d2e3f4a5b"]},
        images=[
            ServiceImage(
                uuid="0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d",
                model_service_uuid=uuid,
                cpu_architecture="x86_64",
                vm_image_uuid="9f8e7d6c5b4a49382716a5b4c3d2e1f0",
                docker_image="registry.example.com/ai/vllm-openai:v0.6.3",
                gpu_vendor="NVIDIA",
                create_date=when,
                last_op_date=when,
            )
        ],
        create_date=when,
        last_op_date=when,
    )


def _llama() -> ModelService:
    """A fine-tune template owned by the ml-platform project account (carol's)."""
    when = datetime(2025, 9, 3, 9, 5, 12)
    uuid = LLAMA_SERVICE_UUID
    return ModelService(
        uuid=uuid,
        name="llama-3.1-8b-finetune",
        owner_account_uuid=_ACCOUNTS["ml-platform"],
        description="LoRA fine-tuning of Llama 3.1 8B",
        type="FineTune",
        framework="PyTorch",
        source="HuggingFace",
        size=16060522496,
        system=False,
        request_cpu=16,
        request_memory=65536,
        model_center_uuid=_MODEL_CENTER_UUID,
        gpu_compute_capability="8.6",
        install_path="/opt/models/llama-3.1-8b",
        python_version="3.11.9",
        start_command="torchrun --nproc_per_node 2 train.py",
        support_distributed=True,
        cpu_architectures=["x86_64", "aarch64"],
        images=[
            ServiceImage(
                uuid="6e5d4c3b2a1940f8a7b6c5d4e3f2a1b0",
                model_service_uuid=uuid,
                cpu_architecture="x86_64",
                docker_image="registry.example.com/ai/torch-train:2.4-cuda12",
                create_date=when,
                last_op_date=when,
            ),
            ServiceImage(
                uuid="1f2e3d4c5b6a47989a8b7c6d5e4f3a2b",
                model_service_uuid=uuid,
                cpu_architecture="aarch64",
                docker_image="registry.example.com/ai/torch-train:2.4-arm64",
                create_date=when,
                last_op_date=when,
            ),
        ],
        create_date=when,
        last_op_date=when,
    )


def _bge() -> ModelService:
    """An embedding endpoint owned by alice."""
    when = datetime(2025, 11, 2, 16, 30, 0)
    uuid = BGE_SERVICE_UUID
    return ModelService(
        uuid=uuid,
        name="bge-m3-embedding",
        owner_account_uuid=_ACCOUNTS["alice"],
        description="BGE-M3 dense+sparse embeddings",
        type="Endpoint",
        framework="HuggingFace",
        source="Bentoml",
        size=2271145830,
        system=False,
        request_cpu=4,
        request_memory=8192,
        model_center_uuid=_MODEL_CENTER_UUID,
        gpu_compute_capability="7.5",
        install_path="/opt/models/bge-m3",
        python_version="3.10.14",
        start_command="bentoml serve service:Embedder",
        support_distributed=False,
        cpu_architectures=["x86_64"],
        images=[
            ServiceImage(
                uuid="8d7c6b5a4f3e42d1b0a9c8d7e6f5a4b3",
                model_service_uuid=uuid,
                cpu_architecture="x86_64",
                vm_image_uuid="2b3c4d5e6f7a48b9c0d1e2f3a4b5c6d7",
                docker_image="registry.example.com/ai/bge-m3:1.0",
                create_date=when,
                last_op_date=when,
            )
        ],
        create_date=when,
        last_op_date=when,
    )


def seed_services() -> list[ModelService]:
    """Fresh copies of the seeded model services."""
    return [_example(), _qwen(), _llama(), _bge()]
