//! GPIO push buttons and LEDs. (Skeleton: the button helper fills this in.)
