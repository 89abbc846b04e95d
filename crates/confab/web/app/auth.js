// The sign-up and login screen: one form, Email and Password, two buttons.
import { $ } from './dom.js';
import { signUp, logIn, errorText } from './api.js';

export function setUpAuth(onSignedIn) {
  const form = $('#auth-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const signingUp = event.submitter?.value === 'signup';
    const email = $('#email').value.trim();
    const password = $('#password').value;
    const error = $('#auth-error');
    if (!email || !password) {
      error.textContent = 'Enter your email and password.';
      (email ? $('#password') : $('#email')).focus();
      return;
    }
    error.textContent = '';
    const buttons = form.querySelectorAll('button');
    buttons.forEach((b) => (b.disabled = true));
    try {
      const user = await (signingUp ? signUp : logIn)(email, password);
      $('#password').value = '';
      onSignedIn(user);
    } catch (failure) {
      error.textContent = errorText(failure);
      $('#password').focus();
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  });
}

export function showAuth() {
  $('#app').hidden = true;
  $('#shared-view').hidden = true;
  $('#auth').hidden = false;
  $('#email').focus();
}
