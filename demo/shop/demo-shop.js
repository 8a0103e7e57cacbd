// The demo shop's script (served at /demo/shop/demo-shop.js for the development partner; see
// src/http/routes/demo-shop.ts). It drives the shop API of this origin with a token from POST /demo/shop/token and
// writes every value with textContent: names, prices and messages from the API are text, never markup.
'use strict';
(() => {
  // the development partner's reCAPTCHA verifier accepts every token but "invalid"
  const RECAPTCHA = 'demo-shop-recaptcha';
  const $ = (id) => document.getElementById(id);
  const statusEl = $('status');

  /** Says `text` in the page's live region; kind: 'ok', 'error' or '' (progress). */
  function say(text, kind = '') {
    statusEl.textContent = text;
    statusEl.className = kind;
  }

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'text') node.textContent = v;
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  function money(m) {
    if (!m || typeof m.amount !== 'number') return '–';
    if (m.currency === null) return String(m.amount);
    try {
      return new Intl.NumberFormat('en', { style: 'currency', currency: m.currency }).format(m.amount);
    } catch {
      return `${m.amount} ${m.currency}`;
    }
  }

  function date(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : new Intl.DateTimeFormat('en', { dateStyle: 'long', timeZone: 'UTC' }).format(d);
  }

  function setTime(node, iso) {
    node.dateTime = iso;
    node.textContent = date(iso);
  }

  class ApiError extends Error {
    constructor(status, message, body) {
      super(message);
      this.status = status;
      this.body = body;
    }
  }

  let token = null;

  /** A shop access token, fetched again a minute before it expires. */
  async function accessToken() {
    if (token && token.expires - 60_000 > Date.now()) return token.value;
    const res = await fetch('/demo/shop/token', { method: 'POST' });
    const body = await res.json().catch(() => ({}));
    if (!res.ok || typeof body.access_token !== 'string') throw new ApiError(res.status, body.message || 'The demo shop could not get an access token', body);
    token = { value: body.access_token, expires: Date.now() + body.expires_in * 1000 };
    return token.value;
  }

  /** A call of this origin with the bearer token; JSON in and out; a non-2xx answer throws ApiError. */
  async function api(method, path, body, { recaptcha = false } = {}) {
    const headers = { Authorization: `Bearer ${await accessToken()}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (recaptcha) headers['x-limio-recaptcha'] = RECAPTCHA;
    const res = await fetch(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new ApiError(res.status, typeof data.message === 'string' ? data.message : `The request failed (HTTP ${res.status})`, data);
    return data;
  }

  function show(id, visible = true) {
    $(id).hidden = !visible;
  }

  // --- /demo/shop --------------------------------------------------------------------------------------------

  function renderBasket(basket) {
    const list = $('items');
    list.replaceChildren(
      ...basket.order.orderItems.map((item) =>
        el(
          'li',
          { dataset: { testid: 'item' } },
          el('div', { class: 'info' }, el('span', { class: 'name', text: item.name }), el('span', { class: 'meta', text: `Quantity: ${item.quantity}` })),
          el('span', { class: 'price', text: money(item.total) }),
        ),
      ),
    );
    $('total').textContent = money(basket.order.total);
    show('basket');
  }

  function renderOrdered(id, reference) {
    $('order-id').textContent = id;
    $('order-reference').textContent = reference || '–';
    show('order-form', false);
    show('ordered');
  }

  /** The basket of the landing-state cookie; false when there is none. */
  async function loadBasket() {
    const { basket } = await api('GET', '/demo/shop/basket');
    if (!basket) return false;
    renderBasket(basket);
    if (basket.status === 'completed') {
      renderOrdered(basket.orderId || '–', null);
      say('This basket was already ordered.', 'ok');
    } else {
      say(`Your basket is ready: ${basket.order.orderItems.length} item(s).`, 'ok');
    }
    return true;
  }

  async function shopPage() {
    const params = new URLSearchParams(location.search);
    const jayToken = params.get('jayToken');
    if (jayToken) {
      // off the address bar (and out of the history) before anything else: the token works once
      history.replaceState(null, '', location.pathname);
      say('Bringing over your basket from the TV…');
      try {
        await api('POST', '/api/checkout/initiate', { order: { order_type: 'new', jayToken } });
      } catch (err) {
        say(err instanceof ApiError && err.status === 400 ? 'This basket link has expired or was already used. Send the basket from your TV again.' : err.message, 'error');
        return;
      }
    }
    if (!(await loadBasket())) say('Your basket is empty. Send a basket from a TV app to see it here.');

    $('order-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const button = $('place-order');
      button.disabled = true;
      say('Placing your order…');
      try {
        const { basket } = await api('GET', '/demo/shop/basket');
        if (!basket) throw new Error('The basket is gone (expired); send it from the TV again.');
        const email = $('email').value.trim();
        const order = await api('POST', '/api/order', { checkoutId: basket.id, ...(email ? { customerDetails: { email } } : {}) });
        renderOrdered(order.id, order.order_reference);
        say(`Order placed: ${order.id}.`, 'ok');
        $('ordered-heading').focus();
      } catch (err) {
        say(err.message, 'error');
        button.disabled = false;
      }
    });
  }

  // --- /demo/shop/account ------------------------------------------------------------------------------------

  function term(offer) {
    if (!offer.term) return '';
    const { length, unit } = offer.term;
    return length === 1 ? ` per ${unit}` : ` every ${length} ${unit}s`;
  }

  const offerText = (offer) => `${offer.name}, ${money({ amount: offer.price, currency: offer.currency })}${term(offer)}`;

  let checkout = null;

  function renderOptions(fieldsetId, offers, kind) {
    const fieldset = $(fieldsetId);
    const legend = fieldset.querySelector('legend');
    fieldset.replaceChildren(legend);
    if (offers.length === 0) {
      fieldset.append(el('p', { class: 'hint', text: `No ${kind}s for this plan.` }));
      return;
    }
    offers.forEach((offer, n) => {
      const id = `${kind}-${n}`;
      const input = el('input', { type: 'radio', name: 'offer', id, value: `${kind}:${n}` });
      fieldset.append(el('div', { class: 'option' }, input, el('label', { for: id, text: offerText(offer) })));
    });
  }

  function renderCheckout(c) {
    checkout = c;
    $('subscription-name').textContent = c.order.forSubscription.name;
    $('current-plan').textContent = offerText(c.forSubscriptionOffer);
    const addOns = c.nextActions.subscriptionAddOns.map((a) => a.name);
    $('current-addons').textContent = addOns.length > 0 ? addOns.join(', ') : 'None';
    show('current');
    renderOptions('upgrades', c.nextActions.upgrades, 'upgrade');
    renderOptions('downgrades', c.nextActions.downgrades, 'downgrade');
    const any = c.nextActions.upgrades.length + c.nextActions.downgrades.length > 0;
    $('quote-change').disabled = !any;
    show('choose');
  }

  function chosenOffer() {
    const picked = document.querySelector('input[name="offer"]:checked');
    if (!picked) return null;
    const [kind, n] = picked.value.split(':');
    return (kind === 'upgrade' ? checkout.nextActions.upgrades : checkout.nextActions.downgrades)[Number(n)] || null;
  }

  async function accountPage() {
    const id = new URLSearchParams(location.search).get('subscription');
    if (!id) {
      say('Enter a subscription id to see its options.');
      return;
    }
    say('Looking up the subscription…');
    try {
      const c = await api('POST', '/api/checkout/subscription', { order: { order_type: 'update_subscription', forSubscription: { id } } }, { recaptcha: true });
      renderCheckout(c);
      say(`Choose a new plan for ${c.order.forSubscription.name}.`, 'ok');
    } catch (err) {
      if (err instanceof ApiError && err.status === 423 && typeof err.body.effectiveDate === 'string') {
        say(`This subscription has a change pending from ${date(err.body.effectiveDate)}; it can be changed again after that date.`, 'error');
      } else {
        say(err.message, 'error');
      }
      return;
    }

    $('choose').addEventListener('submit', async (event) => {
      event.preventDefault();
      const offer = chosenOffer();
      if (!offer) {
        say('Choose a plan first.', 'error');
        return;
      }
      say('Working out the price…');
      show('quote', false);
      try {
        const c = await api(
          'PUT',
          '/api/checkout/subscription',
          { orderItems: [{ orderItemActionType: 'add', type: 'offer', offer: { id: offer.id, version: offer.version }, quantity: 1 }] },
          { recaptcha: true },
        );
        checkout = c;
        $('quote-plan').textContent = offerText(offer);
        setTime($('quote-effective'), c.order.effectiveDate);
        $('quote-proration').textContent = money(c.order.proration);
        $('confirm-change').disabled = false;
        show('quote');
        say(`${offer.name}: ${money(c.order.proration)} now, effective ${date(c.order.effectiveDate)}.`, 'ok');
      } catch (err) {
        say(err.message, 'error');
      }
    });

    $('confirm-change').addEventListener('click', async () => {
      const button = $('confirm-change');
      button.disabled = true;
      say('Submitting the change…');
      try {
        const order = await api('POST', '/api/order', { checkoutId: checkout.order.checkoutId });
        // read back: the change is completed, and when it takes effect
        const done = await api('GET', '/api/checkout/subscription');
        setTime($('changed-effective'), done.order.effectiveDate);
        $('change-order-id').textContent = order.id;
        show('choose', false);
        show('quote', false);
        show('changed');
        say(`Change submitted, effective ${date(done.order.effectiveDate)}.`, 'ok');
        $('changed-heading').focus();
      } catch (err) {
        say(err.message, 'error');
        button.disabled = false;
      }
    });
  }

  const run = document.body.dataset.page === 'account' ? accountPage : shopPage;
  run().catch((err) => say(err instanceof Error ? err.message : 'Something went wrong', 'error'));
})();
