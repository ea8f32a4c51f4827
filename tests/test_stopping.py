"""Stopping a channel's background tasks ends them even when a cancel is swallowed: on Python
3.11 a cancel that lands as an inner `asyncio.wait_for` completes is lost (CPython gh-86296), and
a Telegram poller that lost it polled on, so a test's teardown hung until CI gave up."""

from __future__ import annotations

import asyncio

from bot.runner import cancel_and_wait


async def test_a_task_that_swallows_a_cancel_is_cancelled_again_until_it_ends() -> None:
    polls = 0

    async def poller() -> None:  # as a poll loop whose first cancel was swallowed by a wait_for
        nonlocal polls
        swallowed = False
        while True:
            try:
                await asyncio.sleep(0.01)
                polls += 1
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed = True

    task = asyncio.create_task(poller())
    await asyncio.sleep(0.05)
    task.cancel()  # what stop() did: one cancel, then wait for the end
    done, _ = await asyncio.wait({task}, timeout=0.3)
    assert not done and polls > 0  # it polls on: a plain gather would wait forever
    await asyncio.wait_for(cancel_and_wait(task), 5)
    assert task.cancelled()


async def test_none_and_finished_tasks_are_passed_over_and_errors_do_not_escape() -> None:
    async def fails_when_stopped() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise RuntimeError("ended badly") from None

    done = asyncio.create_task(asyncio.sleep(0))
    bad = asyncio.create_task(fails_when_stopped())
    await asyncio.sleep(0.01)
    await asyncio.wait_for(cancel_and_wait(None, done, bad), 5)
    assert done.done() and isinstance(bad.exception(), RuntimeError)
