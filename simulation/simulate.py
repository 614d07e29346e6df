"""`stories simulate`: a synthetic social world and its activity, as valid events in log order.

The world (`simulation.world`): users whose follower counts follow a power law (a few
celebrities hold a large share of all follows), close-friends lists drawn from each user's
followers, and posting habits from a heavy-tailed distribution. The activity
(`simulation.activity`): posts with stickers, viewing sessions that start after a decaying delay,
tap-through in order, reactions, replies and sticker answers, deletions, highlights, follows and
unfollows. Everything random derives from the seed: the same seed, start, rate and options give
the same events, byte for byte. This module gathers the names the command and its callers use.
"""

from __future__ import annotations

from simulation.activity import Simulation
from simulation.config import Mix, SimulationConfig
from simulation.events import Event
from simulation.world import World, build_world, follower_share_of_top

__all__ = [
    "Event",
    "Mix",
    "SimulationConfig",
    "Simulation",
    "World",
    "build_world",
    "follower_share_of_top",
]
