"""`rasoat rekey`: seal ID numbers and phones anew with a new data key (key rotation)."""

from __future__ import annotations

import argparse

from bot.app import ChatApp
from bot.cli.command import Command
from core.config import Settings
from core.i18n import t
from core.procedure.baseline import reseal_baselines
from core.storage.sealed import rotate, sealed_fields


async def online(_args: argparse.Namespace, settings: Settings, service: ChatApp) -> int:
    count, retired = await rotate(service.db, settings.data_dir, settings.data_key,
                                  sealed_fields(service.forms.values()), (reseal_baselines,))
    print(t("sec_rekey_done", count=count))
    print(t("sec_rekey_retired", path=retired) if retired else t("sec_rekey_env"))
    return 0


COMMAND = Command("rekey", "seal ID numbers and phones anew with a new data key (key rotation)", online=online)
