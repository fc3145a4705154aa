import { boot } from './live.js'; console.debug('waitless', boot.page);
