"""Model lifecycle: training jobs on Ray Jobs, the MLflow registry, promotion and hot deploy.

Shared by the HTTP API (the ingress's /v1/training and /v1/registry routes) and the `adgenesis` CLI:

    auth.py              API-key checks for the write (and optionally read) endpoints
    jobs.py              training jobs: submit / list / status / logs / cancel through Ray's JobSubmissionClient
    batches.py           the OpenAI Batch API subset: uploaded files, batches run as Ray Jobs
    ray_jobs.py          Ray's job API as both of them use it
    dashboard.py         where the Ray dashboard is, and its auth header
    registry_service.py  registered models and versions, compare, promotion history (promote / rollback bookkeeping)
    deploy.py            materialize a version (checksum verified) and switch the running graph to it; put back
                         what an interrupted promotion left
    served_kinds.py      one object per model kind: where its versions go, what is servable, how it is switched
    serve_config.py      the Serve REST API: an application's user_config changed in place
    canary.py, canary_run.py  canary promotions: the gate's decisions, and the run that stages each step
    client.py            the HTTP client the CLI uses, typed with the same request/response models as the API

Adapter aliases (`<lora_dir>/aliases.json`) are adgenesis/engines/aliases.py: the engines resolve them.

Nothing here runs training in the web process: jobs run on the cluster, the server only submits and reads.
See docs/lifecycle.md.
"""
