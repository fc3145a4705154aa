// waitless: the reports page. It is drawn on the server and works without script; this only
// adds the user's name, "Change password" and "Log out" to its top bar, as on the other staff
// pages (a manager has no other page to log out from).

import { topBar } from "./page.js";

topBar();
