"""The simulated world: users, follows, posting and viewing habits, and the traffic they make."""
