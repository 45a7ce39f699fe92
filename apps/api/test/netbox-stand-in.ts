/** The stand-in NetBox lives in @tether/testkit, so the e2e suite starts the very same one. */
export {
  NETBOX_TOKEN,
  NETBOX_TOKEN_EXPIRED,
  NETBOX_TOKEN_NO_DEVICES,
  NETBOX_VERSION,
  type NetboxStandIn,
  selfSignedCert,
  startNetboxStandIn,
} from '@tether/testkit';
