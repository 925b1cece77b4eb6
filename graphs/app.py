"""The AdGenesis application graph, built in one place from a typed profile.

    ingress (FastAPI: AdGenesis + OpenAI routes)
      |- classifier router      (multilingual encoder + linear head, calibrated, batched)
      |- design spec  -> LLM    (vLLM via ray.serve.llm: a JSON-schema constrained brief -> layout engine)
      |              -> image gen (filled image slots when a layout is rendered)
      |- LLM                    (chat, completions, product descriptions)
      |- image gen              (FLUX + LoRA)
      |- captioner              (BLIP, batched)
      '- lifecycle              (one replica: training jobs, registry, promotions -> classifier, batches)

Used by both Serve configs: `import_path: graphs.app:build_app` with `args: {profile: local|production}`.
"""

from __future__ import annotations

from ray import serve
from ray.serve.llm.ingress import OpenAiIngress

from adgenesis.ray_compat import to_model_metadata
from adgenesis.settings import load_profile
from deployments.captioner import Captioner
from deployments.classifier import Classifier
from deployments.design_spec import DesignSpec
from deployments.image_gen import ImageGen
from deployments.ingress import make_ingress
from deployments.lifecycle import Lifecycle
from deployments.llm import build_llm_server


def build_app(args: dict | None = None):
    profile = load_profile((args or {}).get("profile"))
    llm, llm_config = build_llm_server(profile.llm)
    model_id = profile.llm.model_id
    ingress = serve.deployment(make_ingress(), name="AdGenesisIngress")

    def upstream(route: str) -> dict | None:  # the route's fallback model, when the profile names one
        return profile.upstream[route].model_dump() if route in profile.upstream else None

    image_gen = ImageGen.bind(profile.image_gen.model_dump())
    classifier = Classifier.bind(profile.classifier.model_dump())
    return ingress.options(**OpenAiIngress.get_deployment_options([llm_config])).bind(
        {model_id: llm},
        {model_id: to_model_metadata(model_id, llm_config)},
        # The designs draw with the brand kits' logos and fonts from the store's uploads folder.
        design=DesignSpec.bind(llm, image_gen, profile.llm.model_dump(), upstream("design_spec"),
                               profile.store.model_dump(mode="json"), profile.limits.model_dump()),
        classifier=classifier,
        image_gen=image_gen,
        captioner=Captioner.bind(profile.captioner.model_dump(), profile.limits.model_dump()),
        llm_settings=profile.llm.model_dump(),
        limits=profile.limits.model_dump(),
        # Training jobs, registry, hot deploy and batches (lifecycle section of the profile; docs/lifecycle.md):
        # the ingress checks the API key, the one Lifecycle replica does the work.
        lifecycle=Lifecycle.bind(profile.model_dump(mode="json"), classifier),
        lifecycle_settings=profile.lifecycle.model_dump(mode="json"),
        chat_upstream=upstream("conversation"),
        # Brand kits: every ingress replica opens the store (profile `store` section; docs/brand-kits.md).
        store_settings=profile.store.model_dump(mode="json"),
    )
