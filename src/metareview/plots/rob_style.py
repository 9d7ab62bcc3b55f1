"""How a risk-of-bias judgment looks: robvis's colours and symbols, shared by the traffic-light plot and the forest
plot's columns."""

__all__ = ["ROB_COLOURS", "ROB_SYMBOLS"]

#: Fill colour by judgment level (robvis's "cochrane" colours; grey for not applicable).
ROB_COLOURS = {1: "#02C100", 2: "#E2DF07", 3: "#BF0000", 4: "#820000", 0: "#4EA1F7", -1: "#BBBBBB"}
#: Symbol by judgment level.
ROB_SYMBOLS = {1: "+", 2: "\u2212", 3: "\u00d7", 4: "!", 0: "?", -1: ""}
