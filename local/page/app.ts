document.getElementById('app')!.textContent = 'Team presence';
