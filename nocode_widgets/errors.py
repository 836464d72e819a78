"""Errors a user can meet. Each message is written for a person with no programming background;
the UI and the CLI show it as it is, never a traceback."""


class NocodeError(Exception):
    """Base of every error whose message is meant for the user."""


class AuthError(NocodeError):
    """Sign-up, log-in, permissions."""


class NotFound(NocodeError):
    """A dataset, run or user that does not exist, or that belongs to someone else."""


class DatasetError(NocodeError):
    """A dataset operation that cannot be done as asked."""


class TrainingError(NocodeError):
    """A training run that cannot start or could not finish."""


class StoreBusy(NocodeError):
    """The store stayed locked too long (another process holds it): try again."""
