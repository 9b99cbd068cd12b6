"""The peer: what other deploy actions run (`upload_folder` mirroring a folder, like `hf upload --delete=*`)."""

import os
import sys

from huggingface_hub import HfApi

endpoint, repo_id, folder = sys.argv[1], sys.argv[2], sys.argv[3]
api = HfApi(endpoint=endpoint, token=os.environ["HF_TOKEN"])
api.create_repo(repo_id, repo_type="model", exist_ok=True)
api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type="model", delete_patterns="*")
