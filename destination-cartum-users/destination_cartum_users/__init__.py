from destination_cartum_users.destination import DestinationCartumUsers

__all__ = ["DestinationCartumUsers"]
